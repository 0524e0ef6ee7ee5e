using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Measurement;

namespace TopicBroker.Bench.Reporting;

/// <summary>What one scenario run measured; written as bench/results/&lt;scenario&gt;-&lt;utc&gt;.json.</summary>
internal sealed record ScenarioResult
{
    public required string Scenario { get; init; }

    public required IReadOnlyList<string> Arguments { get; init; }

    public required DateTimeOffset StartedUtc { get; init; }

    public required double ElapsedSeconds { get; init; }

    public required RunEnvironment Environment { get; init; }

    public required BrokerInfo Broker { get; init; }

    /// <summary>False when a check failed: lost frames, rejected lines, failed connections, closed subscribers.</summary>
    public required bool Passed { get; init; }

    public required IReadOnlyList<string> Problems { get; init; }

    /// <summary>Things worth knowing that are not failures (for example how a sweep ended).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The headline numbers, also used for the summary table of <c>all</c>.</summary>
    public required IReadOnlyList<SummaryRow> Summary { get; init; }

    public DeliveryResult? Delivery { get; init; }

    public ConnectionsResult? Connections { get; init; }

    public IngestResult? Ingest { get; init; }

    public ChaosResult? Chaos { get; init; }

    public ClusterResult? Cluster { get; init; }

    /// <summary>
    /// The broker's own <c>GET /api/status</c> at the end of the run (its per-topic counters:
    /// frames sent, conflated, dropped, slow-consumer closes), kept verbatim as a cross-check of
    /// what the generator counted; absent when the broker has no such endpoint.
    /// </summary>
    public System.Text.Json.JsonElement? BrokerStatus { get; init; }

    /// <summary>Files written for this run (JSON, SVG), filled in by the result store.</summary>
    public IReadOnlyList<string> Files { get; init; } = [];
}

internal sealed record AllResult(DateTimeOffset StartedUtc, double ElapsedSeconds, bool Passed, IReadOnlyList<ScenarioResult> Scenarios);

internal sealed record SummaryRow(string Metric, double Value, string Unit);

internal sealed record RunEnvironment(
    string Machine,
    int ProcessorCount,
    string OperatingSystem,
    string Runtime,
    long? OpenFilesLimit,
    bool InlineSocketCompletions,
    string? RepositoryCommit,
    bool Quick);

internal sealed record BrokerInfo(
    bool StartedByTool,
    string? Dll,
    DateTimeOffset? DllWrittenUtc,
    string HttpBase,
    string Bridge,
    int? ProcessId,
    IReadOnlyList<string> Arguments,
    IReadOnlyList<string> StartupOutput,
    int OutputLines,
    IReadOnlyList<string> LastOutput);

/// <summary>CPU over a window, as a percentage of one core (200% is both cores of a 2-core machine).</summary>
internal sealed record CpuUsage(
    double WindowSeconds,
    double? BrokerCpuSeconds,
    double? BrokerCpuPercent,
    double GeneratorCpuSeconds,
    double GeneratorCpuPercent,
    int GeneratorCollections,
    double GeneratorGcPauseMs);

internal sealed record DeliveryResult(
    string Mode,
    int Topics,
    int SubscribersPerTopic,
    int Subscribers,
    int PayloadBytes,
    int? SendQueueCapacity,
    int ReceiveBufferBytes,
    ConnectOutcome Connect,
    IReadOnlyList<DeliveryStep> Steps,
    DeliveryTotals Totals);

internal sealed record DeliveryStep(
    double OfferedUpdatesPerSecond,
    double OfferedFramesPerSecond,
    double WindowSeconds,
    long UpdatesPublished,
    long UpdatesAccepted,
    long UpdatesRejected,
    double DeliveredFramesPerSecond,
    LatencySummary Latency,
    LatencySummary CommitLatency,
    CpuUsage Cpu,
    double? BrokerCpuMicrosecondsPerFrame,
    double? BrokerRssMiB,
    LatencySummary PublisherLag,
    long PublisherRoomWaits,
    long FramesLost,
    long Duplicates,
    int OpenSubscribers,
    bool Drained,
    bool OverLimit,
    bool Saturated);

internal sealed record DeliveryTotals(
    long UpdatesReceived,
    long FramesLost,
    long Duplicates,
    long SeqRegressions,
    long UnparsedUpdates,
    long Snapshots,
    long Pings,
    long OtherFrames,
    long FragmentedFrames,
    long OversizedFrames,
    int SubscribersClosed,
    IReadOnlyDictionary<string, int> CloseCodes,
    IReadOnlyList<string> SubscriberProblems);

internal sealed record ConnectionsResult(
    int Requested,
    int Established,
    int Failed,
    IReadOnlyList<string> FailureSamples,
    IReadOnlyList<string> Topics,
    IReadOnlyList<string> SourceAddresses,
    int ConnectConcurrency,
    double ConnectSeconds,
    double ConnectionsPerSecond,
    CpuUsage ConnectCpu,
    double? BrokerRssBeforeMiB,
    double? BrokerRssAfterMiB,
    double? BrokerKiBPerConnection,
    double GeneratorRssMiB,
    IReadOnlyList<BroadcastRound> Broadcasts,
    long BroadcastMissing,
    double HoldSeconds,
    CpuUsage HoldCpu,
    int ClosedDuringHold,
    long? OpenFilesLimit);

/// <summary>One update to every topic of the connections scenario, timed to the last subscriber.</summary>
internal sealed record BroadcastRound(double LastArrivalMs, LatencySummary Latency, double CommitMaxMs, CpuUsage Cpu);

internal sealed record IngestResult(int PayloadBytes, IReadOnlyList<IngestMode> Modes);

internal sealed record IngestMode(
    string Name,
    string Transport,
    int Connections,
    int Concurrency,
    double WindowSeconds,
    long AcceptedInWindow,
    double AcceptedPerSecond,
    long Sent,
    long Accepted,
    long Rejected,
    bool AllAnswered,
    LatencySummary CommitLatency,
    CpuUsage Cpu,
    double? BrokerCpuMicrosecondsPerUpdate,
    IReadOnlyList<string> RejectionSamples);

/// <summary>What a chaos run did and found (bench README "chaos").</summary>
internal sealed record ChaosResult(
    int Seed,
    double Minutes,
    int Stops,
    int Kills,
    int Terms,
    int Restarts,
    int RestartRetries,
    long AckedBridge,
    long AckedHttp,
    long Unanswered,
    IReadOnlyDictionary<string, long> Rejections,
    long StoreComparisons,
    long FramesChecked,
    long Connects,
    long Resumes,
    long SnapshotResets,
    long FreshSnapshots,
    long ShutdownFrames,
    IReadOnlyDictionary<string, long> Closes,
    long MalformedSent,
    long MalformedDocumented,
    long MalformedInterrupted,
    double PeakRssMiB,
    double RssLimitMiB,
    IReadOnlyList<double> PeakRssPerIncarnationMiB,
    long Violations,
    IReadOnlyDictionary<string, long> ViolationsByInvariant,
    IReadOnlyList<string> ViolationSamples,
    IReadOnlyList<string> Invariants,
    IReadOnlyList<string> StopLog);

/// <summary>What a cluster run measured (bench README "Cluster"); latencies are publish to receive, split by where the publish landed.</summary>
internal sealed record ClusterResult(
    int Nodes,
    int Topics,
    int PublishersPerNode,
    int InFlightPerPublisher,
    int SubscribersPerTopicPerNode,
    double? OfferedUpdatesPerSecond,
    int PayloadBytes,
    bool PostgresFsync,
    double WindowSeconds,
    double AckedPerSecond,
    IReadOnlyList<double> AckedPerSecondPerNode,
    double DeliveredFramesPerSecond,
    long Acked,
    long Rejected,
    bool AllAnswered,
    LatencySummary CommitLatency,
    LatencySummary SameNodeLatency,
    LatencySummary CrossNodeLatency,
    double? CrossToSameP99,
    int Subscribers,
    long FramesChecked,
    long FramesLost,
    long Duplicates,
    long OutOfOrder,
    int SubscribersClosed,
    bool Drained,
    IReadOnlyList<long> CommittedSeqs,
    IReadOnlyList<double?> NodeCpuPercent,
    double? PostgresCpuPercent,
    double? RedisCpuPercent,
    double GeneratorCpuPercent,
    bool IngestTargetMet,
    bool LatencyTargetMet,
    bool ZeroLossMet);
