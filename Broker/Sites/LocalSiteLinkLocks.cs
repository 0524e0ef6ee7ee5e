namespace TopicBroker.Sites;

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
