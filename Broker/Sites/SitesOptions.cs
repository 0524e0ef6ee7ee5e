using System.ComponentModel.DataAnnotations;

namespace TopicBroker.Sites;

/// <summary><c>Broker:Sites</c>: site-scoped topics on a head-office broker (protocol.md "Sites and upstream replication").</summary>
public sealed class SitesOptions
{
    /// <summary>Accept <c>&lt;site&gt;/&lt;topic&gt;</c> names and replication links on <c>/replicate/&lt;site&gt;</c>.</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// Sites that may exist at once. Each costs one topic per configured topic (a few hundred bytes
    /// each until written) and one label set per metric family; 1000 restaurants fit comfortably.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxSites { get; set; } = 1000;

    /// <summary>
    /// Largest message a replication link may send: a resynchronisation carries a whole topic's
    /// state in one snapshot frame, so this is far above <c>Broker:MaxMessageBytes</c>.
    /// </summary>
    [Range(1024, 1024 * 1024 * 1024)]
    public int MaxReplicationMessageBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// Cluster mode: how often a node checks the PostgreSQL connection that holds a site's
    /// replication link lock; a failed check ends the link (protocol.md "Sites and upstream
    /// replication"). Short enough that a lost lock is noticed within seconds, long enough to
    /// cost nothing: one <c>SELECT 1</c> per connected site.
    /// </summary>
    public TimeSpan LinkLockCheckInterval { get; set; } = TimeSpan.FromSeconds(5);
}
