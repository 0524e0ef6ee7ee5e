using System.ComponentModel.DataAnnotations;

namespace TopicBroker.Hosting;

/// <summary>
/// Every setting of the <c>Broker</c> configuration section. docs/operations.md "Configuration" is the public
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

    /// <summary>
    /// Fan-out workers that write to the WebSockets, each owning a shard of the connections;
    /// 0 means one per core, which keeps every core busy without a wake-up per subscriber.
    /// </summary>
    [Range(0, 1024)]
    public int SendWorkers { get; set; }

    /// <summary>
    /// How long a fan-out worker waits after it is woken before it writes (Centrifugo's
    /// write_delay): a longer wait lets one write per socket carry more frames, at the price of
    /// that much latency. Zero by default: measured on the reference machine, waiting bought no
    /// CPU per frame that was not lost again in latency (BENCHMARKS.md).
    /// </summary>
    public TimeSpan SendWriteDelay { get; set; } = TimeSpan.Zero;

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

    /// <summary>Several nodes on one PostgreSQL store (docs/operations.md "Cluster mode").</summary>
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary>Which database holds the state (docs/operations.md "PostgreSQL store").</summary>
    public StorageOptions Storage { get; set; } = new();

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

        if (Upstream.Topics.Length == 0)
        {
            Upstream.Topics = Topics;
        }

        // The built-in policies name default topics; drop them when those topics are not configured.
        foreach (var topic in new[] { "robots", "status" })
        {
            if (!Topics.Contains(topic, StringComparer.Ordinal))
            {
                DeliveryPolicies.Remove(topic);
            }
        }
    }

    /// <summary>
    /// SQLite synchronous mode for commits. Full by default, so an acknowledged change survives a
    /// power cut (protocol.md "TCP bridge"); with group commit one fsync covers a whole batch.
    /// Normal is the documented opt-in for speed (docs/operations.md "Configuration").
    /// </summary>
    public SynchronousMode Synchronous { get; set; } = SynchronousMode.Full;

    /// <summary>
    /// Most changes committed in one transaction (group commit). A batch is fanned out at once, so
    /// it must stay well under <see cref="SendQueueCapacity"/> or one burst would make every
    /// subscriber a slow consumer; 1024 already amortises the commit over many changes.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxIngestBatch { get; set; } = 1024;

    public TcpBridgeOptions TcpBridge { get; set; } = new();

    public WebSocketUpgradeOptions WebSocket { get; set; } = new();

    public TopicBroker.Sites.SitesOptions Sites { get; set; } = new();

    public TopicBroker.Upstream.UpstreamOptions Upstream { get; set; } = new();

    public TopicBroker.Security.AuthOptions Auth { get; set; } = new();

    /// <summary>
    /// Origins (scheme://host[:port]) whose pages may open WebSockets, besides the broker's own
    /// origin and localhost, which are always allowed; <c>*</c> allows any origin.
    /// </summary>
    public string[]? AllowedOrigins { get; set; }

    /// <summary>Messages a client may send per second (bursts of twice that); a flood is closed with 1008.</summary>
    [Range(1, 1_000_000)]
    public int ClientMessagesPerSecond { get; set; } = 20;

    /// <summary>WebSocket connections in total; the next one is closed with 1008.</summary>
    [Range(1, 10_000_000)]
    public int MaxConnections { get; set; } = 50_000;

    /// <summary>
    /// WebSocket connections from one remote address; the next one is closed with 1008. A whole
    /// restaurant behind one NAT is a few dozen screens; 1000 leaves room and stops one host from
    /// taking every slot.
    /// </summary>
    [Range(1, 10_000_000)]
    public int MaxConnectionsPerAddress { get; set; } = 1000;

    /// <summary>Time a client has to send its complete HTTP request head (WebSocket handshake included).</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Distinct ids per topic; a publish that would create one more is refused (too_many_entities).</summary>
    [Range(1, 100_000_000)]
    public int MaxEntitiesPerTopic { get; set; } = 100_000;

    /// <summary>
    /// What happens to a subscriber whose send queue is full, per topic (protocol.md "Frames");
    /// topics not listed use <see cref="DeliveryPolicy.Disconnect"/>.
    /// </summary>
    public Dictionary<string, DeliveryPolicy> DeliveryPolicies { get; set; } = new(StringComparer.Ordinal)
    {
        ["robots"] = DeliveryPolicy.Latest,
        ["status"] = DeliveryPolicy.Latest,
    };

    /// <summary>The policy of a topic; a site topic <c>site/topic</c> has that of <c>topic</c>.</summary>
    internal DeliveryPolicy PolicyFor(string topic) =>
        DeliveryPolicies.TryGetValue(topic[(topic.IndexOf('/', StringComparison.Ordinal) + 1)..], out var policy) ? policy : DeliveryPolicy.Disconnect;
}

public enum DeliveryPolicy
{
    /// <summary>Close a slow subscriber with 1013; it reconnects and resumes, so nothing is lost silently.</summary>
    Disconnect,

    /// <summary>Conflate a slow subscriber's backlog to the newest value per id; never disconnect it for being slow.</summary>
    Latest,
}

public sealed class StorageOptions
{
    /// <summary><see cref="StorageProvider.Sqlite"/>: the file of Broker:Database, one node.</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>The Npgsql connection string when <see cref="Provider"/> is <see cref="StorageProvider.Postgres"/>.</summary>
    public string? ConnectionString { get; set; }
}

public enum StorageProvider
{
    Sqlite,
    Postgres,
}

public enum SynchronousMode
{
    /// <summary>fsync on every commit: an acked change survives power loss.</summary>
    Full,
    /// <summary>fsync at checkpoints: an acked change survives a process crash, not power loss.</summary>
    Normal,
}

public sealed class WebSocketUpgradeOptions
{
    /// <summary>
    /// Upgrade plain <c>GET /ws/{topic}</c> requests below HTTP, in a Kestrel connection middleware
    /// (Endpoints/WebSocketUpgradeMiddleware.cs), so an idle connection does not keep an HTTP/1.1
    /// connection and request alive under it. On by default; off, every upgrade goes through
    /// ASP.NET's WebSocket middleware. Clients see no difference either way.
    /// </summary>
    public bool RawUpgrade { get; set; } = true;
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

    /// <summary>Bridge connections at once; one more is answered too_many_connections and closed.</summary>
    [Range(1, 100_000)]
    public int MaxConnections { get; set; } = 64;

    /// <summary>
    /// A bridge connection on which nothing arrives for this long is closed (a half-open TCP
    /// connection would otherwise hold its slot forever); idle bridges send blank lines.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
