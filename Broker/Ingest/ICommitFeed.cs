using TopicBroker.Storage;

namespace TopicBroker.Ingest;

/// <summary>Where the pipeline hands each committed batch once its publishers are answered: the other cluster nodes, or nowhere.</summary>
internal interface ICommitFeed
{
    void Publish(IReadOnlyList<StoredChange> committed);
}

/// <summary>One node: nobody else to tell.</summary>
internal sealed class NoCommitFeed : ICommitFeed
{
    public void Publish(IReadOnlyList<StoredChange> committed)
    {
    }
}
