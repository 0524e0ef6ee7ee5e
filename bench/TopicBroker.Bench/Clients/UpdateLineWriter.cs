using System.Buffers.Text;
using System.Text;

namespace TopicBroker.Bench.Clients;

/// <summary>
/// Writes bridge lines (protocol.md "TCP bridge") whose data carries the send timestamp and the
/// publisher's per-topic sequence number:
/// <c>{"topic":"robots","id":"robot-7","data":{"ts":123,"n":42,"pad":"xxxx"}}\n</c>.
/// Topic and id bytes are encoded once; writing a line allocates nothing. The cluster scenario
/// adds the node the line is published on, <c>"o":1</c> after <c>n</c>, so a subscriber can tell
/// a same-node delivery from a cross-node one.
/// </summary>
internal sealed class UpdateLineWriter
{
    /// <summary>Upper bound of one line, for sizing batches.</summary>
    public const int MaxLineBytes = 512 + MaxPadBytes;

    private const int MaxPadBytes = 16 * 1024;

    private readonly byte[][] _topicPrefixes;
    private readonly byte[][] _ids;
    private readonly byte[] _pad;
    private readonly byte[]? _origin;

    /// <param name="topics">Topic names, indexed by topic index.</param>
    /// <param name="idPrefix">Entity ids are <c>{idPrefix}{k}</c>, k cycling below <paramref name="idsPerTopic"/>.</param>
    /// <param name="dataBytes">Target size of the data object; the pad fills the rest.</param>
    /// <param name="origin">The cluster node index written as <c>"o"</c>; null writes none.</param>
    public UpdateLineWriter(IReadOnlyList<string> topics, string idPrefix, int idsPerTopic, int dataBytes, int? origin = null)
    {
        _origin = origin is { } node ? Encoding.ASCII.GetBytes(string.Create(System.Globalization.CultureInfo.InvariantCulture, $",\"o\":{node}")) : null;
        _topicPrefixes = [.. topics.Select(topic => Encoding.UTF8.GetBytes($"{{\"topic\":\"{topic}\",\"id\":\""))];
        _ids = [.. Enumerable.Range(0, Math.Max(1, idsPerTopic)).Select(k => Encoding.UTF8.GetBytes($"{idPrefix}{k}"))];

        // {"ts":<19 digits>,"n":<up to 10 digits>,"pad":""} is about 46 bytes.
        _pad = Encoding.ASCII.GetBytes(new string('x', Math.Clamp(dataBytes - 46, 0, MaxPadBytes)));
    }

    public int TopicCount => _topicPrefixes.Length;

    public int Write(Span<byte> destination, int topicIndex, long sequence, long timestamp)
    {
        var written = 0;
        Append(destination, ref written, _topicPrefixes[topicIndex]);
        Append(destination, ref written, _ids[(int)(sequence % _ids.Length)]);
        Append(destination, ref written, "\",\"data\":"u8);
        written += WriteData(destination[written..], sequence, timestamp);
        Append(destination, ref written, "}\n"u8);
        return written;
    }

    /// <summary>The entity id a line with this sequence number uses.</summary>
    public ReadOnlySpan<byte> IdFor(long sequence) => _ids[(int)(sequence % _ids.Length)];

    /// <summary>Writes only the data object, <c>{"ts":123,"n":42,"pad":"xxxx"}</c> (the HTTP publish body).</summary>
    public int WriteData(Span<byte> destination, long sequence, long timestamp)
    {
        var written = 0;
        Append(destination, ref written, "{\"ts\":"u8);
        AppendNumber(destination, ref written, timestamp);
        Append(destination, ref written, ",\"n\":"u8);
        AppendNumber(destination, ref written, sequence);
        if (_origin is not null)
        {
            Append(destination, ref written, _origin);
        }

        Append(destination, ref written, ",\"pad\":\""u8);
        Append(destination, ref written, _pad);
        Append(destination, ref written, "\"}"u8);
        return written;
    }

    private static void Append(Span<byte> destination, ref int written, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination[written..]);
        written += bytes.Length;
    }

    private static void AppendNumber(Span<byte> destination, ref int written, long value)
    {
        if (!Utf8Formatter.TryFormat(value, destination[written..], out var length))
        {
            throw new ArgumentException("The destination is too small for a bridge line.", nameof(destination));
        }

        written += length;
    }
}
