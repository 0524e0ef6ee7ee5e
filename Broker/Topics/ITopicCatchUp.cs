namespace TopicBroker.Topics;

/// <summary>
/// Lets a resume with <c>?since=</c> ahead of this node's applied seq (the client came from a
/// faster cluster node) wait until this node has applied that far, before the replay is chosen
/// (protocol.md "Cluster").
/// </summary>
internal interface ITopicCatchUp
{
    ValueTask CatchUpAsync(TopicState topic, long since, CancellationToken cancellationToken);
}
