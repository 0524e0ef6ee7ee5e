using TopicBroker.Topics;

namespace TopicBroker.Storage;

/// <summary>A change with its seq assigned, on its way into the store. Data null means delete.</summary>
internal readonly record struct StoredChange(TopicState Topic, long Seq, string Id, byte[]? Data, long IngestTimestamp = 0);

/// <summary>What the store holds for one topic at start-up.</summary>
internal sealed record StoredTopic(long Seq, IReadOnlyList<KeyValuePair<string, byte[]>> Entities, IReadOnlyList<StoredChange> History);

/// <summary>The store cannot commit right now (disk full, read-only file, locked too long).</summary>
internal sealed class StoreUnavailableException(string message, Exception inner) : Exception(message, inner);
