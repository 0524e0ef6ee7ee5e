using System.Text.Json;
using System.Text.Unicode;

namespace TopicBroker.Protocol.Inbound;

/// <summary>Reads what clients send on a WebSocket (protocol.md "Client to server").</summary>
internal static class ClientMessageReader
{
    /// <summary>Reads a single JSON object, picking out its string <c>type</c> and the raw bytes of <c>data</c>; false when it is not one.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, out ClientMessage result)
    {
        result = default;
        if (!Utf8.IsValid(message))
        {
            return false;
        }

        var type = ClientMessageType.Missing;
        byte[]? data = null;
        try
        {
            var reader = new Utf8JsonReader(message, EntityRules.ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.String ? ReadType(ref reader) : ClientMessageType.Missing;
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
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return false;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string with a lone surrogate escape, bad input like any other.
            return false;
        }

        result = new ClientMessage(type, data);
        return true;
    }

    private static ClientMessageType ReadType(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("ping"u8) ? ClientMessageType.Ping
        : reader.ValueTextEquals("pong"u8) ? ClientMessageType.Pong
        : reader.ValueTextEquals("auth"u8) ? ClientMessageType.Auth
        : ClientMessageType.Unknown;
}
