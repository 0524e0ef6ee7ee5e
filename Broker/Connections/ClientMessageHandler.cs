using System.Text.Json;
using System.Text.Unicode;
using TopicBroker.Protocol;
using TopicBroker.Security;

namespace TopicBroker.Connections;

/// <summary>
/// Answers what clients send on a WebSocket (protocol.md "Frames", "Client to server"). Bad input
/// gets an <c>error</c> frame and the connection goes on.
/// </summary>
internal sealed class ClientMessageHandler(TokenValidator tokens, TimeProvider timeProvider)
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    public ValueTask HandleAsync(WebSocketConnection connection, ReadOnlyMemory<byte> message)
    {
        if (!TryParse(message.Span, out var type, out var data))
        {
            Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.InvalidJson, "The message is not a JSON object."));
            return ValueTask.CompletedTask;
        }

        switch (type)
        {
            case FrameTypes.Auth:
                return new ValueTask(RefreshTokenAsync(connection, data));
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
                Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.UnknownType, "Clients may send 'ping', 'pong' and 'auth'."));
                break;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// <c>{"type":"auth","data":{"token":"..."}}</c>: a new token replaces the connection's, in place,
    /// if it is valid and still allows the topic; otherwise the old one stays (protocol.md "Security").
    /// </summary>
    private async Task RefreshTokenAsync(WebSocketConnection connection, byte[]? data)
    {
        var token = ReadTokenField(data);
        var check = await tokens.ValidateAsync(token).ConfigureAwait(false);
        if (!check.Ok)
        {
            Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.InvalidToken, check.Error!));
            return;
        }

        if (!check.Grants!.MaySubscribe(connection.Topic.Name))
        {
            Reply(connection, FrameSerializer.Error(connection.Topic.Name, ErrorCodes.Forbidden, "The new token does not allow this topic; the old one stays in force."));
            return;
        }

        connection.TokenExpiresTimestamp = ToTimestamp(check.ExpiresAt);
        Reply(connection, FrameSerializer.Auth(connection.Topic.Name, check.ExpiresAt == DateTimeOffset.MaxValue ? null : check.ExpiresAt.ToUnixTimeMilliseconds()));
    }

    /// <summary>Converts a wall-clock expiry into the monotonic timestamps the heartbeat compares.</summary>
    public long ToTimestamp(DateTimeOffset expiresAt)
    {
        if (expiresAt == DateTimeOffset.MaxValue)
        {
            return long.MaxValue;
        }

        var remaining = expiresAt - timeProvider.GetUtcNow();
        return timeProvider.GetTimestamp() + (long)(Math.Max(0, remaining.TotalSeconds) * timeProvider.TimestampFrequency);
    }

    private static string? ReadTokenField(byte[]? data)
    {
        if (data is null)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("token", out var token)
                && token.ValueKind == JsonValueKind.String ? token.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void Reply(WebSocketConnection connection, OutboundFrame frame) => connection.EnqueueReply(frame);

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
