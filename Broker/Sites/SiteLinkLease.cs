namespace TopicBroker.Sites;

/// <summary>A held site lock; disposing releases it. <see cref="Lost"/> fires if it is lost while held.</summary>
internal abstract class SiteLinkLease : IAsyncDisposable
{
    protected CancellationTokenSource LostSource { get; } = new();

    public abstract string Site { get; }

    /// <summary>Cancelled when the lock can no longer be vouched for: the link must stop writing.</summary>
    public CancellationToken Lost => LostSource.Token;

    public abstract ValueTask DisposeAsync();
}
