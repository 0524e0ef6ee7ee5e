using TopicBroker.Storage;

namespace TopicBroker.Ingest;

/// <summary>Where the pipeline hands each committed batch once its publishers are answered: the other cluster nodes, or nowhere.</summary>
internal interface ICommitFeed
{
    void Publish(IReadOnlyList<StoredChange> committed);

    /// <summary>
    /// Tells the other nodes that this node replaced <paramref name="topic"/>'s state at
    /// <paramref name="seq"/> (a committed resynchronisation), so they reload it from the store.
    /// </summary>
    void PublishResync(string topic, long seq);
}

/// <summary>One node: nobody else to tell.</summary>
internal sealed class NoCommitFeed : ICommitFeed
{
    public void Publish(IReadOnlyList<StoredChange> committed)
    {
    }

    public void PublishResync(string topic, long seq)
    {
    }
}
