namespace TopicBroker.Protocol.Inbound;

/// <summary>
/// One validated frame from a restaurant's replication link. An update has <see cref="Id"/> and
/// <see cref="Data"/> (null for a delete); a snapshot has <see cref="Entities"/>; a position has
/// <see cref="Positions"/>, the restaurant's own seq of each of the link's topics it reported.
/// </summary>
internal readonly record struct ReplicationFrame(
    ReplicationFrameType Type,
    string Topic,
    long Seq,
    string? Id = null,
    byte[]? Data = null,
    Dictionary<string, byte[]>? Entities = null,
    List<(string Topic, long Seq)>? Positions = null);
