using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace TopicBroker.Protocol;

/// <summary>
/// Turns frames into UTF-8 bytes. Each call allocates exactly the returned array: the writer and
/// its buffer are reused per thread, because a broadcast's bytes must outlive the call while the
/// scratch space must not.
/// </summary>
internal static class FrameSerializer
{
    // Relaxed escaping: frames are JSON read by JSON parsers, never embedded in HTML, so messages
    // keep their apostrophes and non-ASCII text readable.
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        SkipValidation = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    public static OutboundFrame Update(string topic, long seq, string id, byte[]? data, long ingestTimestamp = 0) =>
        new(Serialize(new UpdateFrame(topic, seq, id, data is null ? ChangeOps.Delete : ChangeOps.Upsert, data), FrameJsonContext.Default.UpdateFrame), seq, id, ingestTimestamp);

    public static OutboundFrame Snapshot(string topic, long seq, IReadOnlyDictionary<string, byte[]> entities) =>
        new(Serialize(new SnapshotFrame(topic, seq, entities), FrameJsonContext.Default.SnapshotFrame), seq);

    public static OutboundFrame Ping(string topic, long unixMilliseconds) =>
        new(Serialize(new PingFrame(topic, new PingData(unixMilliseconds)), FrameJsonContext.Default.PingFrame));

    public static OutboundFrame Pong(string topic, byte[]? data) =>
        new(Serialize(new PongFrame(topic, data), FrameJsonContext.Default.PongFrame));

    public static OutboundFrame Error(string topic, string code, string message) =>
        new(Serialize(new ErrorFrame(topic, new ErrorData(code, message)), FrameJsonContext.Default.ErrorFrame));

    public static OutboundFrame Shutdown(string topic, string reason, long reconnectAfterMs, long resumeFrom) =>
        new(Serialize(new ShutdownFrame(topic, new ShutdownData(reason, reconnectAfterMs, resumeFrom)), FrameJsonContext.Default.ShutdownFrame));

    public static OutboundFrame Auth(string topic, long? expiresAtUnixMs) =>
        new(Serialize(new AuthFrame(topic, new AuthData(true, expiresAtUnixMs)), FrameJsonContext.Default.AuthFrame));

    public static byte[] Answer(PublishAnswer answer) => Serialize(answer, FrameJsonContext.Default.PublishAnswer);

    public static byte[] Serialize<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        try
        {
            JsonSerializer.Serialize(writer, value, typeInfo);
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            writer.Reset(buffer);
            if (buffer.Capacity > 1024 * 1024)
            {
                // One huge snapshot must not pin a megabyte per thread forever.
                t_buffer = null;
                t_writer = null;
            }
            else
            {
                buffer.ResetWrittenCount();
            }
        }
    }
}
