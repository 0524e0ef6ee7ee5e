namespace TopicBroker.Protocol;

/// <summary>
/// One server-to-client frame, serialized once and shared by every queue it is handed to.
/// Immutable: many send loops read <see cref="Payload"/> at once.
/// </summary>
internal sealed class OutboundFrame(byte[] payload, long seq = 0, string? id = null, long ingestTimestamp = 0)
{
    /// <summary>The UTF-8 JSON text of the frame.</summary>
    public byte[] Payload { get; } = payload;

    /// <summary>The change's seq for update frames, the newest seq included for snapshots, else 0.</summary>
    public long Seq { get; } = seq;

    /// <summary>The entity id of an update frame; null for every other frame.</summary>
    public string? Id { get; } = id;

    /// <summary>For live update frames, when the change entered the ingest pipeline (Stopwatch ticks); else 0.</summary>
    public long IngestTimestamp { get; } = ingestTimestamp;
}
