using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;

namespace TopicBroker.Sites;

/// <summary>
/// The replication link's own messages (protocol.md "Sites and upstream replication"). Changes
/// and resynchronisations travel as the restaurant's ordinary <c>update</c> and <c>snapshot</c>
/// frames; these are the rest: <c>welcome</c>, <c>ack</c> and <c>error</c> from the head office,
/// <c>position</c> from the restaurant.
/// </summary>
internal static class ReplicationMessages
{
    public const string Path = "/replicate";

    public const string Welcome = "welcome";
    public const string Ack = "ack";
    public const string Error = "error";
    public const string Position = "position";

    public static byte[] WelcomeFrame(string site, IEnumerable<KeyValuePair<string, long>> seqs) => Write(writer =>
    {
        writer.WriteString("type", Welcome);
        writer.WriteString("site", site);
        writer.WriteStartObject("topics");
        foreach (var (topic, seq) in seqs)
        {
            writer.WriteStartObject(topic);
            writer.WriteNumber("seq", seq);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    });

    public static byte[] AckFrame(string topic, long seq) => Write(writer =>
    {
        writer.WriteString("type", Ack);
        writer.WriteString("topic", topic);
        writer.WriteNumber("seq", seq);
    });

    public static byte[] ErrorFrame(string? topic, string code, string message) => Write(writer =>
    {
        writer.WriteString("type", Error);
        if (topic is null)
        {
            writer.WriteNull("topic");
        }
        else
        {
            writer.WriteString("topic", topic);
        }

        writer.WriteStartObject("data");
        writer.WriteString("code", code);
        writer.WriteString("message", message);
        writer.WriteEndObject();
    });

    public static byte[] PositionFrame(IEnumerable<(string Topic, long Seq, long Forwarded)> topics) => Write(writer =>
    {
        writer.WriteString("type", Position);
        writer.WriteStartObject("topics");
        foreach (var (topic, seq, forwarded) in topics)
        {
            writer.WriteStartObject(topic);
            writer.WriteNumber("seq", seq);
            writer.WriteNumber("forwarded", forwarded);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    });

    /// <summary>Reads one whole text message; null when the peer closed. Over <paramref name="limit"/> bytes throws <see cref="InvalidDataException"/>.</summary>
    public static async Task<byte[]?> ReceiveAsync(WebSocket socket, ArrayBufferWriter<byte> buffer, int limit, CancellationToken cancellationToken)
    {
        buffer.ResetWrittenCount();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(16 * 1024), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            buffer.Advance(result.Count);
            if (buffer.WrittenCount > limit)
            {
                throw new InvalidDataException($"A replication message is over {limit} bytes.");
            }

            if (result.EndOfMessage)
            {
                return buffer.WrittenSpan.ToArray();
            }
        }
    }

    public static ValueTask SendAsync(WebSocket socket, ReadOnlyMemory<byte> message, CancellationToken cancellationToken) =>
        socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
