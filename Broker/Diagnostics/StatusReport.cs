using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TopicBroker.Diagnostics;

// The bodies of GET /api/status and GET /api/status/history (docs/operations.md "Health, status, metrics").
// Rates are per second, rounded to two decimals; totals count since the broker started.

internal sealed record BrokerStatus(
    string Version,
    DateTimeOffset StartedAt,
    double UptimeSeconds,
    DateTimeOffset Time,
    HealthSummary Health,
    IngestStatus Ingest,
    BridgeStatus Bridge,
    TotalsStatus Totals,
    Dictionary<string, TopicStatus> Topics,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] TopicBroker.Sites.SitesStatus? Sites = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] TopicBroker.Upstream.UpstreamStatus? Upstream = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ClusterStatus? Cluster = null);

/// <summary>Cluster mode only (docs/operations.md "Cluster mode"): this node, its Redis link, and how far it lags the store.</summary>
internal sealed record ClusterStatus(
    string NodeId,
    string Link,
    bool Degraded,
    long MessagesReceived,
    long Backfills,
    long BackfilledChanges,
    long DuplicatesDropped,
    long Resynchronizations,
    long PublishFailures,
    Dictionary<string, ClusterTopicStatus> Topics);

/// <param name="Applied">The seq this node has applied and fanned out.</param>
/// <param name="Committed">The topic's committed seq as this node's repair loop last read it from the store.</param>
/// <param name="Held">Changes held behind a gap, waiting for the seqs before them.</param>
internal sealed record ClusterTopicStatus(long Applied, long Committed, long Lag, int Held, long DuplicatesDropped);

/// <summary>The readiness checks' outcome, as <c>/ready</c> reports it.</summary>
internal sealed record HealthSummary(string Status, Dictionary<string, string> Checks);

internal sealed record IngestStatus(long CommittedChanges, long Commits, double ChangesPerSecond, bool StoreHealthy);

internal sealed record BridgeStatus(bool Enabled, bool Listening, string? EndPoint, int Connections);

internal sealed record TotalsStatus(
    int Subscribers,
    int WebSocketConnections,
    int RemoteAddresses,
    long UpdatesIn,
    double UpdatesPerSecond,
    long FramesOut,
    double FramesOutPerSecond,
    long SlowConsumerCloses,
    long FramesConflated,
    long FramesDropped);

internal sealed record TopicStatus(
    int Subscribers,
    long Seq,
    long UpdatesIn,
    double UpdatesPerSecond,
    long FramesOut,
    double FramesOutPerSecond,
    long SlowConsumerCloses,
    long FramesConflated,
    long FramesDropped,
    DateTimeOffset? LastUpdateAt);

/// <summary>
/// The sampled history, oldest first. Per-topic arrays are in the order of <see cref="Topics"/>,
/// which keeps five minutes of nine topics to a few tens of kilobytes.
/// </summary>
internal sealed record StatusHistory(double IntervalSeconds, double HistorySeconds, string[] Topics, List<HistoryPoint> Samples);

/// <param name="Time">Unix milliseconds of the sample; pass the last one seen as <c>after</c> to get only newer ones.</param>
/// <param name="UpdatesPerSecond">Per topic, since the sample before this one.</param>
/// <param name="SlowConsumerCloses">Per topic, since the broker started.</param>
internal sealed record HistoryPoint(
    long Time,
    int[] Subscribers,
    double[] UpdatesPerSecond,
    long[] SlowConsumerCloses,
    double IngestPerSecond,
    int BridgeConnections);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(BrokerStatus))]
[JsonSerializable(typeof(StatusHistory))]
internal sealed partial class DiagnosticsJsonContext : JsonSerializerContext
{
    /// <summary>
    /// Relaxed escaping, as for frames: these answers are read by JSON parsers, never embedded in
    /// HTML, so a version's '+' and a description's apostrophe stay as they are.
    /// </summary>
    public static DiagnosticsJsonContext Relaxed { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
