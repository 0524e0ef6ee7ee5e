using System.Text.Json;
using System.Text.Unicode;
using TopicBroker.Protocol;

namespace TopicBroker.Connections;

/// <summary>
/// Answers what clients send on a WebSocket (protocol.md section 3, "Client to server"). Bad input
/// gets an <c>error</c> frame and the connection goes on.
/// </summary>
internal sealed class ClientMessageHandler
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    public void Handle(WebSocketConnection connection, ReadOnlySpan<byte> message)
    {
        if (!TryParse(message, out var type, out var data))
        {
            Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.InvalidJson, "The message is not a JSON object."));
            return;
        }

        switch (type)
        {
            case FrameTypes.Pong:
                // Arrival alone is the answer: the receive loop has already noted the activity.
                break;
            case FrameTypes.Ping:
                Reply(connection, FrameSerializer.Pong(connection.Topic.Name, data));
                break;
            case null:
                Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.MissingType, "The message has no string 'type'."));
                break;
            default:
                Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.UnknownType, "Clients may send 'ping' and 'pong'."));
                break;
        }
    }

    private static void Reply(WebSocketConnection connection, OutboundFrame frame)
    {
        if (!connection.TryEnqueue(frame))
        {
            connection.OnQueueFull();
        }
    }

    /// <summary>Reads a single JSON object, picking out its string <c>type</c> and the raw bytes of <c>data</c>.</summary>
    private static bool TryParse(ReadOnlySpan<byte> message, out string? type, out byte[]? data)
    {
        type = null;
        data = null;
        if (!Utf8.IsValid(message))
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(message, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("data"u8))
                {
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    data = message[start..(int)reader.BytesConsumed].ToArray();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Anything after the object (a second value, stray text) makes the message invalid.
            return reader.TokenType == JsonTokenType.EndObject && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
