namespace TopicBroker.Hosting;

/// <summary>
/// <c>Broker:Cluster</c>: several nodes on one PostgreSQL store, linked by Redis pub/sub
/// (protocol.md "Cluster", docs/operations.md "Cluster mode"). Unset <see cref="Redis"/> means one node.
/// </summary>
public sealed class ClusterOptions
{
    /// <summary>A StackExchange.Redis configuration string; set, the node runs in cluster mode (Broker:Storage:Provider must be Postgres).</summary>
    public string? Redis { get; set; }

    /// <summary>This node's name in logs, status and metrics; the host name and process id when unset.</summary>
    public string? NodeId { get; set; }

    /// <summary>
    /// Prefix of the Redis channels; nodes sharing one prefix form one cluster (so several
    /// clusters, or test runs, can share one Redis).
    /// </summary>
    public string Channel { get; set; } = "topicbroker";

    /// <summary>
    /// The most a committed change may wait before this node applies it when pub/sub lost it or is
    /// down: the repair loop compares every topic's committed seq with its own twice per this.
    /// </summary>
    public TimeSpan RepairDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a change that arrived after a gap is held before the gap is read from the store.</summary>
    public TimeSpan GapHoldTime { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Each node publishes a heartbeat this often; a subscription silent for three of them counts as lost.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the store may be unreachable before this node sends its WebSocket clients a
    /// <c>shutdown</c> frame and closes them, so they resume on a node that has a store.
    /// </summary>
    public TimeSpan StoreLossDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>For tests only: damage this node's outgoing pub/sub messages, to show the repair works.</summary>
    public ClusterTestFaults TestFaults { get; set; } = new();

    /// <summary>The effective node id.</summary>
    public string ResolveNodeId() =>
        string.IsNullOrWhiteSpace(NodeId) ? $"{Environment.MachineName}-{Environment.ProcessId}" : NodeId;
}

/// <summary>
/// Every Nth outgoing message is dropped, sent twice, or held back and sent after the next one
/// (0 turns a fault off); and, on a receiving node, the periodic check can be switched off.
/// </summary>
public sealed class ClusterTestFaults
{
    public int DropEvery { get; set; }

    public int DuplicateEvery { get; set; }

    public int ReorderEvery { get; set; }

    /// <summary>
    /// While the link is up, the repair loop does not read a change committed but not applied a
    /// tick later (so a lost last message stays lost): what pub/sub lost in the middle of a stream
    /// can then only come from the held-gap backfill, which a test shows on its own this way.
    /// </summary>
    public bool SkipPeriodicCheckWhileUp { get; set; }

    /// <summary>True when outgoing messages are damaged.</summary>
    public bool Any => DropEvery > 0 || DuplicateEvery > 0 || ReorderEvery > 0;
}
