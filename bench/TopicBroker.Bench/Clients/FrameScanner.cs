using System.Buffers.Text;
using System.Text.Json;

namespace TopicBroker.Bench.Clients;

internal enum FrameKind
{
    Unknown,
    Update,
    Snapshot,
    Ping,
    Pong,
    Error,
    Shutdown,
}

/// <summary>
/// Pulls the few fields the benchmark needs out of a frame's UTF-8 JSON without a string or a
/// DOM: a vectorised search for the quoted key, then <see cref="Utf8Parser"/> on the number.
/// It relies on what the benchmark itself publishes (data keys <c>ts</c>, <c>n</c> and a
/// <c>pad</c> of letters), not on the broker's field order (protocol.md "Frames").
/// </summary>
internal static class FrameScanner
{
    public static FrameKind Classify(ReadOnlySpan<byte> json)
    {
        if (!TryFindValue(json, "\"type\""u8, out var value))
        {
            return FrameKind.Unknown;
        }

        if (value.StartsWith("\"update\""u8))
        {
            return FrameKind.Update;
        }

        if (value.StartsWith("\"snapshot\""u8))
        {
            return FrameKind.Snapshot;
        }

        if (value.StartsWith("\"ping\""u8))
        {
            return FrameKind.Ping;
        }

        if (value.StartsWith("\"pong\""u8))
        {
            return FrameKind.Pong;
        }

        if (value.StartsWith("\"error\""u8))
        {
            return FrameKind.Error;
        }

        return value.StartsWith("\"shutdown\""u8) ? FrameKind.Shutdown : FrameKind.Unknown;
    }

    /// <summary>Reads the benchmark's <c>ts</c> and <c>n</c> from an update's data, and the broker's <c>seq</c>.</summary>
    public static bool TryReadUpdate(ReadOnlySpan<byte> json, out long timestamp, out long sequence, out long seq)
    {
        timestamp = 0;
        sequence = 0;
        seq = 0;

        // Search ts and n only inside data, so an id or topic can never be mistaken for them.
        var dataKey = json.IndexOf("\"data\""u8);
        if (dataKey < 0)
        {
            return false;
        }

        var data = json[dataKey..];
        return TryReadInt64(data, "\"ts\""u8, out timestamp)
            && TryReadInt64(data, "\"n\""u8, out sequence)
            && TryReadInt64(json, "\"seq\""u8, out seq);
    }

    /// <summary>Reads the cluster scenario's <c>o</c> (the node an update was published on) from its data.</summary>
    public static bool TryReadOrigin(ReadOnlySpan<byte> json, out long origin)
    {
        origin = 0;
        var dataKey = json.IndexOf("\"data\""u8);
        return dataKey >= 0 && TryReadInt64(json[dataKey..], "\"o\""u8, out origin);
    }

    public static bool TryReadInt64(ReadOnlySpan<byte> json, ReadOnlySpan<byte> quotedKey, out long value)
    {
        value = 0;
        return TryFindValue(json, quotedKey, out var rest) && Utf8Parser.TryParse(rest, out value, out _);
    }

    /// <summary>
    /// Builds the answer to an application-level ping: a pong echoing the ping's <c>data</c>
    /// (protocol.md "Frames", keep-alive). Pings are rare, so this may allocate.
    /// </summary>
    public static byte[] BuildPong(ReadOnlySpan<byte> ping)
    {
        var data = "null"u8;
        try
        {
            var reader = new Utf8JsonReader(ping);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isData = reader.ValueTextEquals("data"u8);
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    if (isData)
                    {
                        data = ping[start..(int)reader.BytesConsumed];
                        break;
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Answer with null data; any message counts as activity.
        }

        var prefix = "{\"type\":\"pong\",\"data\":"u8;
        var pong = new byte[prefix.Length + data.Length + 1];
        prefix.CopyTo(pong);
        data.CopyTo(pong.AsSpan(prefix.Length));
        pong[^1] = (byte)'}';
        return pong;
    }

    private static bool TryFindValue(ReadOnlySpan<byte> json, ReadOnlySpan<byte> quotedKey, out ReadOnlySpan<byte> value)
    {
        value = default;
        var index = json.IndexOf(quotedKey);
        if (index < 0)
        {
            return false;
        }

        var rest = json[(index + quotedKey.Length)..].TrimStart(" \t\r\n"u8);
        if (rest.IsEmpty || rest[0] != (byte)':')
        {
            return false;
        }

        value = rest[1..].TrimStart(" \t\r\n"u8);
        return true;
    }
}
