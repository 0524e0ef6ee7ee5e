using System.ComponentModel.DataAnnotations;

namespace TopicBroker.Hosting;

/// <summary>
/// Every setting of the <c>Broker</c> configuration section. protocol.md section 9 is the public
/// contract for these names and defaults; keep the two in step.
/// </summary>
public sealed class BrokerOptions
{
    public const string SectionName = "Broker";

    public static readonly string[] DefaultTopics =
        ["robots", "tables", "events", "orders", "status", "systemlogs", "customers", "inventory", "video_streams"];

    public static readonly string[] DefaultRebroadcastTopics = ["robots", "tables", "orders"];

    /// <summary>
    /// The topics clients may subscribe and publish to; <see cref="DefaultTopics"/> when none are
    /// configured. (Empty, not pre-filled: the configuration binder appends to arrays.)
    /// </summary>
    public string[] Topics { get; set; } = [];

    /// <summary>
    /// Frames queued per connection before it counts as a slow consumer. Queued frames are shared
    /// with every other subscriber, so an entry costs the connection 8 bytes: 8192 absorbs several
    /// whole ingest batches (a burst a fast screen drains in milliseconds) for at most 64 KiB of
    /// references on a stuck one.
    /// </summary>
    [Range(2, 1_000_000)]
    public int SendQueueCapacity { get; set; } = 8192;

    /// <summary>Connections per topic; the next one is closed with 1008.</summary>
    [Range(1, 10_000_000)]
    public int MaxConnectionsPerTopic { get; set; } = 20_000;

    /// <summary>Largest client message, bridge line or HTTP body, in bytes.</summary>
    [Range(256, 64 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>How often every connection is pinged.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Silence after which a connection is presumed dead (three missed pings by default).</summary>
    public TimeSpan PongTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>How long a close handshake may take before the socket is simply dropped.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a graceful shutdown may take in all.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>reconnectAfterMs in the shutdown frame is drawn uniformly from [0, this).</summary>
    public TimeSpan ShutdownReconnectSpread { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The SQLite file; relative paths are relative to the app's base directory.</summary>
    [Required]
    public string Database { get; set; } = Path.Combine("data", "topicbroker.db");

    /// <summary>Changes kept per topic (in memory and in SQLite) for resume with <c>since</c>.</summary>
    [Range(1, 10_000_000)]
    public int HistorySize { get; set; } = 10_000;

    /// <summary>How often the store is polled for external writes and quiet topics are rebroadcast.</summary>
    public TimeSpan PollingInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Topics whose committed state is rebroadcast as a snapshot when they have been quiet for a
    /// polling interval; when not configured, those of <see cref="DefaultRebroadcastTopics"/> that
    /// are in <see cref="Topics"/>.
    /// </summary>
    public string[]? RebroadcastTopics { get; set; }

    /// <summary>Fills the defaults the configuration binder cannot (arrays).</summary>
    internal void ApplyDefaults()
    {
        if (Topics.Length == 0)
        {
            Topics = DefaultTopics;
        }

        RebroadcastTopics ??= [.. DefaultRebroadcastTopics.Where(t => Topics.Contains(t, StringComparer.Ordinal))];
    }

    /// <summary>SQLite synchronous mode for commits.</summary>
    public SynchronousMode Synchronous { get; set; } = SynchronousMode.Full;

    /// <summary>
    /// Most changes committed in one transaction (group commit). A batch is fanned out at once, so
    /// it must stay well under <see cref="SendQueueCapacity"/> or one burst would make every
    /// subscriber a slow consumer; 1024 already amortises the commit over many changes.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxIngestBatch { get; set; } = 1024;

    public TcpBridgeOptions TcpBridge { get; set; } = new();
}

public enum SynchronousMode
{
    /// <summary>fsync on every commit: an acked change survives power loss.</summary>
    Full,
    /// <summary>fsync at checkpoints: an acked change survives a process crash, not power loss.</summary>
    Normal,
}

public sealed class TcpBridgeOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Loopback by default: a bridge on another host must be allowed explicitly.</summary>
    [Required]
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>0 picks a free port (tests).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 5001;
}
