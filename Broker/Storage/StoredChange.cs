namespace TopicBroker.Storage;

/// <summary>A change on its way into the store, before it has a seq. Data null means delete.</summary>
internal readonly record struct NewChange(string Topic, string Id, byte[]? Data, long IngestTimestamp = 0);

/// <summary>A committed change with the seq the store gave it. Data null means delete.</summary>
internal readonly record struct StoredChange(string Topic, long Seq, string Id, byte[]? Data, long IngestTimestamp = 0);

/// <summary>What the store holds for one topic: its committed seq, its entities and its newest history, oldest first.</summary>
internal sealed record StoredTopic(string Topic, long Seq, IReadOnlyList<KeyValuePair<string, byte[]>> Entities, IReadOnlyList<StoredChange> History);
