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
