namespace TopicBroker.Sites;

/// <summary>
/// One replication link per site at a time, in the whole deployment (protocol.md "Sites and
/// upstream replication", docs/operations.md "Cluster mode"): a link writes its site's topics
/// only while it holds its site's lock, from before the welcome until its last change is
/// committed. On one node the lock is in memory; in a cluster it is a PostgreSQL advisory lock.
/// </summary>
internal interface ISiteLinkLocks
{
    /// <summary>The site's lock, or null at once when another link (on any node) holds it.</summary>
    Task<SiteLinkLease?> TryAcquireAsync(string site, CancellationToken cancellationToken);
}

/// <summary>A held site lock; disposing releases it. <see cref="Lost"/> fires if it is lost while held.</summary>
internal abstract class SiteLinkLease : IAsyncDisposable
{
    protected CancellationTokenSource LostSource { get; } = new();

    public abstract string Site { get; }

    /// <summary>Cancelled when the lock can no longer be vouched for: the link must stop writing.</summary>
    public CancellationToken Lost => LostSource.Token;

    public abstract ValueTask DisposeAsync();
}

/// <summary>The site locks of a broker that is the only writer of its store (SQLite, one node).</summary>
internal sealed class LocalSiteLinkLocks : ISiteLinkLocks
{
    private readonly HashSet<string> _held = new(StringComparer.Ordinal);

    public Task<SiteLinkLease?> TryAcquireAsync(string site, CancellationToken cancellationToken)
    {
        lock (_held)
        {
            return Task.FromResult<SiteLinkLease?>(_held.Add(site) ? new Lease(this, site) : null);
        }
    }

    private sealed class Lease(LocalSiteLinkLocks owner, string site) : SiteLinkLease
    {
        private int _released;

        public override string Site => site;

        public override ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                lock (owner._held)
                {
                    owner._held.Remove(site);
                }

                LostSource.Dispose();
            }

            return ValueTask.CompletedTask;
        }
    }
}
