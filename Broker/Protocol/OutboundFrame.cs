namespace TopicBroker.Protocol;

/// <summary>
/// One server-to-client frame, serialized once and shared by every queue it is handed to.
/// Immutable: many connections read <see cref="Payload"/> and <see cref="WireBytes"/> at once.
/// </summary>
internal sealed class OutboundFrame(byte[] payload, long seq = 0, string? id = null, long ingestTimestamp = 0)
{
    private byte[]? _wireBytes;

    /// <summary>The UTF-8 JSON text of the frame.</summary>
    public byte[] Payload { get; } = payload;

    /// <summary>The change's seq for update frames, the newest seq included for snapshots, else 0.</summary>
    public long Seq { get; } = seq;

    /// <summary>The entity id of an update frame; null for every other frame.</summary>
    public string? Id { get; } = id;

    /// <summary>For live update frames, when the change entered the ingest pipeline (TimeProvider timestamp); else 0.</summary>
    public long IngestTimestamp { get; } = ingestTimestamp;

    /// <summary>
    /// The complete WebSocket text frame (RFC 6455 section 5.2: FIN, opcode 1, unmasked, the
    /// payload length, then <see cref="Payload"/>). Server frames are never masked, so these bytes
    /// are the same for every subscriber: built once, on first use, and shared.
    /// </summary>
    public byte[] WireBytes => _wireBytes ?? BuildWireBytes();

    private byte[] BuildWireBytes()
    {
        var length = Payload.Length;
        var headerLength = length < 126 ? 2 : length <= ushort.MaxValue ? 4 : 10;
        var wire = new byte[headerLength + length];
        wire[0] = 0x81;
        if (headerLength == 2)
        {
            wire[1] = (byte)length;
        }
        else if (headerLength == 4)
        {
            wire[1] = 126;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(wire.AsSpan(2), (ushort)length);
        }
        else
        {
            wire[1] = 127;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(wire.AsSpan(2), (ulong)length);
        }

        Payload.CopyTo(wire, headerLength);

        // Two racing first uses build equal arrays; whichever lands is kept.
        return Interlocked.CompareExchange(ref _wireBytes, wire, null) ?? wire;
    }
}
