namespace TopicBroker.Protocol.Inbound;

/// <summary>What a restaurant's replication link may send (protocol.md "The upstream link").</summary>
internal enum ReplicationFrameType
{
    Update,
    Snapshot,
    Position,
}
