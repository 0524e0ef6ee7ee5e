using TopicBroker.Topics;

namespace TopicBroker.Protocol.Inbound;

/// <summary>
/// A validated change, ready for the pipeline. Data null means delete. <paramref name="ReplicatedSeq"/>
/// is the seq a replication link brings (protocol.md "Sites and upstream replication"); 0 lets the pipeline assign one.
/// </summary>
internal readonly record struct InboundChange(TopicState Topic, string Id, byte[]? Data, long ReplicatedSeq = 0);
