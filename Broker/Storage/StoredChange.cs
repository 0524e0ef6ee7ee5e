namespace TopicBroker.Storage;

/// <summary>
/// A change on its way into the store, before it has a seq. Data null means delete.
/// <paramref name="ReplicatedSeq"/> is non-zero for a change that arrives with its own seq from a
/// site's replication link (protocol.md "Sites and upstream replication"): the store writes it
/// only when that seq is the topic's next one.
/// </summary>
internal readonly record struct NewChange(string Topic, string Id, byte[]? Data, long IngestTimestamp = 0, long ReplicatedSeq = 0);

/// <summary>
/// A committed change with the seq the store gave it. Data null means delete. A replicated change
/// the store did not write has <see cref="Outcome"/> other than <see cref="ReplicatedWrite.Written"/>
/// and keeps its own seq.
/// </summary>
internal readonly record struct StoredChange(string Topic, long Seq, string Id, byte[]? Data, long IngestTimestamp = 0, ReplicatedWrite Outcome = ReplicatedWrite.Written);

/// <summary>What the store did with a change of a batch.</summary>
internal enum ReplicatedWrite
{
    /// <summary>Written with the seq given (every change that is not replicated).</summary>
    Written,

    /// <summary>A replicated change whose seq the topic already holds: a resend, not written again.</summary>
    AlreadyCommitted,

    /// <summary>A replicated change whose seq skips one the topic does not hold: refused (seq_gap).</summary>
    Gap,
}

/// <summary>What the store holds for one topic: its committed seq, its entities and its newest history, oldest first.</summary>
internal sealed record StoredTopic(string Topic, long Seq, IReadOnlyList<KeyValuePair<string, byte[]>> Entities, IReadOnlyList<StoredChange> History);
