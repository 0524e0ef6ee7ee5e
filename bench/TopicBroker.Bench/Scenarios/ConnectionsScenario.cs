using System.Net;
using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Measurement;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// Many idle subscribed connections: how fast they connect (until each has its snapshot), what
/// each costs the broker in resident memory, how long one update takes to reach all of them,
/// and what holding them open costs in CPU.
/// </summary>
/// <remarks>
/// Limits: the generator holds one socket per connection, so the open-files limit (ulimit -n,
/// 20,000 on the reference machine) caps N a little below it; the broker, another process, has
/// its own limit. Source addresses 127.0.0.2, .3, ... spread the client ports, since one source
/// address has about 28,000 ephemeral ports (32768-60999) towards one server port, and the broker
/// caps connections per remote address (Broker:MaxConnectionsPerAddress, 1000 by default).
/// </remarks>
internal sealed class ConnectionsScenario : IScenario
{
    public static ScenarioDefinition Definition { get; } = new("connections", "many idle subscribed connections: connect rate and broker memory per connection", options => [new ConnectionsScenario(options)]);

    private const int DefaultConnections = 15_000;
    private const int DefaultConnectConcurrency = 200;
    private const double DefaultHoldSeconds = 5;
    private const int BroadcastRounds = 3;

    /// <summary>File descriptors the generator needs besides the subscriber sockets.</summary>
    private const int ReservedDescriptors = 300;

    /// <summary>Topics outside the default Broker:RebroadcastTopics, so the idle measurement is really idle.</summary>
    private static readonly string[] s_defaultTopics = ["events", "status", "customers", "inventory"];

    private readonly int _connections;
    private readonly int _concurrency;
    private readonly int _perAddress;
    private readonly double _holdSeconds;
    private readonly double _settleSeconds;
    private readonly int _warmupConnections;
    private readonly IReadOnlyList<string> _topics;
    private readonly int _payloadBytes;

    public ConnectionsScenario(BenchOptions options)
    {
        var quick = options.Quick;
        _connections = options.Connections ?? (quick ? 200 : DefaultConnections);
        _concurrency = options.ConnectConcurrency ?? (quick ? 50 : DefaultConnectConcurrency);
        _perAddress = options.PerAddress ?? SourceAddresses.DefaultPerAddress;
        _holdSeconds = options.HoldSeconds ?? (quick ? 0.5 : DefaultHoldSeconds);
        _settleSeconds = quick ? 0.3 : 2;
        _warmupConnections = quick ? 10 : 100;
        _topics = options.TopicNames ?? s_defaultTopics;
        _payloadBytes = options.PayloadBytes ?? 200;
    }

    public string Name => "connections";

    public BrokerConfiguration BrokerConfiguration => new(_topics[0], []);

    public IReadOnlyList<string> RequiredTopics => _topics;

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var startedUtc = DateTimeOffset.UtcNow;
        var startedAt = MonotonicClock.Now;
        var problems = new List<string>();
        var output = context.Output;
        var filesLimit = ProcessMetrics.TryReadOpenFilesLimit();
        if (filesLimit is { } limit && _connections + ReservedDescriptors > limit)
        {
            throw new BenchSetupException(
                $"{_connections} connections need about {_connections + ReservedDescriptors} open files, but this process may open {limit} " +
                $"(ulimit -n). Use --connections {Math.Max(1, limit - ReservedDescriptors)} or raise the limit.");
        }

        var addresses = SourceAddresses.For(_connections, _perAddress);
        output.WriteLine(
            $"connections: {_connections} subscribers over topics {string.Join(",", _topics)} from {addresses.Count} source address(es) " +
            $"{addresses[0]}..{addresses[^1]}, {_concurrency} in flight");

        // Warm up the empty broker (JIT, pools, first SQLite use) so "before" is a settled baseline.
        await using (var warmup = context.CreateSubscriberPool(_topics, 4096))
        {
            var placements = SourceAddresses.Place(_warmupConnections, _topics.Count, addresses);
            await warmup.ConnectAsync(placements, _concurrency, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            await using var warmupBridge = await context.ConnectBridgeAsync(1024, cancellationToken).ConfigureAwait(false);
            var warmupPublisher = new PacedPublisher(warmupBridge, new UpdateLineWriter(_topics, "warmup-", 1, _payloadBytes));
            warmupPublisher.PublishOneToEveryTopic();
            await warmupBridge.WaitForAllAnsweredAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            await warmup.WaitForDrainAsync(warmupPublisher.PublishedPerTopic(), TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        }

        // Memory needs a moment after the warm-up connections are gone; there is no signal for "settled".
        await Task.Delay(TimeSpan.FromSeconds(_settleSeconds), cancellationToken).ConfigureAwait(false);
        var rssBefore = context.BrokerRssMiB();

        await using var pool = context.CreateSubscriberPool(_topics, 4096);
        var allPlacements = SourceAddresses.Place(_connections, _topics.Count, addresses);
        var cpuBeforeConnect = context.SampleCpu();
        ConnectOutcome connect;
        await using (context.StartProgress(() => $"connections: {pool.Attempted:N0}/{_connections:N0} started, {pool.OpenCount():N0} open"))
        {
            connect = await pool.ConnectAsync(allPlacements, _concurrency, TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        }

        var connectCpu = CpuSnapshot.Between(cpuBeforeConnect, context.SampleCpu());
        output.WriteLine($"connections: {connect.Established:N0} established in {connect.Seconds:0.00} s");
        if (connect.Failed > 0)
        {
            problems.Add($"{connect.Failed} of {connect.Requested} connections failed, e.g. {string.Join("; ", connect.FailureSamples)}");
        }

        await Task.Delay(TimeSpan.FromSeconds(_settleSeconds), cancellationToken).ConfigureAwait(false);
        var rssAfter = context.BrokerRssMiB();
        double generatorRss = Environment.WorkingSet / (1024.0 * 1024.0);

        // One update per topic, timed until the last subscriber has it; a few rounds, because the
        // first wakes every idle send loop (and JIT paths) for the first time.
        await using var bridge = await context.ConnectBridgeAsync(1024, cancellationToken).ConfigureAwait(false);
        var publisher = new PacedPublisher(bridge, new UpdateLineWriter(_topics, "conn-", 1, _payloadBytes));
        var broadcasts = new List<BroadcastRound>();
        long missing = 0;
        for (var round = 0; round < BroadcastRounds; round++)
        {
            var now = MonotonicClock.Now;
            var window = new MeasurementWindow(now, now + MonotonicClock.FromSeconds(3600));
            pool.Window.Current = window;
            bridge.BeginCommitWindow(window);
            var cpuBefore = context.SampleCpu();
            var sentAt = publisher.PublishOneToEveryTopic();
            var answered = await bridge.WaitForAllAnsweredAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            var drained = await pool.WaitForDrainAsync(publisher.PublishedPerTopic(), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            var cpu = CpuSnapshot.Between(cpuBefore, context.SampleCpu());
            pool.Window.Current = null;
            var open = pool.Subscribers.Where(s => s.IsOpen).ToList();
            var lastArrival = open.Select(s => s.LastUpdateTimestamp).DefaultIfEmpty(sentAt).Max();
            var published = publisher.PublishedPerTopic();
            missing = open.Sum(s => Math.Max(0, published[s.TopicIndex] - s.ExpectedSequence) + s.Missing);
            broadcasts.Add(new BroadcastRound(
                LastArrivalMs: MonotonicClock.ToMilliseconds(lastArrival - sentAt),
                Latency: window.Recorder.Merge().Summarize(),
                CommitMaxMs: bridge.CommitLatency.MaxNanoseconds / 1e6,
                Cpu: cpu));
            if (!answered || bridge.Rejected > 0)
            {
                problems.Add($"the broadcast update was not accepted: {bridge.Failure ?? string.Join("; ", bridge.RejectionSamples)}");
                break;
            }

            if (!drained || missing > 0)
            {
                problems.Add($"{missing} subscribers did not receive a broadcast update within 30 s");
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
        }

        var subscribers = pool.Subscribers;

        // Hold them open: the broker's CPU with N idle connections, and nothing may drop.
        var openBeforeHold = pool.OpenCount();
        var cpuBeforeHold = context.SampleCpu();
        await using (context.StartProgress(() => $"connections: holding {pool.OpenCount():N0} open"))
        {
            await Task.Delay(TimeSpan.FromSeconds(_holdSeconds), cancellationToken).ConfigureAwait(false);
        }

        var holdCpu = CpuSnapshot.Between(cpuBeforeHold, context.SampleCpu());
        var closedDuringHold = openBeforeHold - pool.OpenCount();
        var closedTotal = connect.Established - pool.OpenCount();
        if (closedTotal > 0)
        {
            var reasons = subscribers.Where(s => !s.IsOpen)
                .GroupBy(s => s.CloseStatus is { } status ? $"{status} {s.CloseReason}".Trim() : s.Failure ?? "ended")
                .Select(g => $"{g.Key} x{g.Count()}");
            problems.Add($"{closedTotal} established connections were closed: {string.Join(", ", reasons)}");
        }

        var connectsPerSecond = connect.Established / Math.Max(connect.Seconds, 1e-9);
        double? kibPerConnection = rssBefore is { } before && rssAfter is { } after && connect.Established > 0
            ? (after - before) * 1024 / connect.Established
            : null;
        var summary = new List<SummaryRow>
        {
            new("connections established", connect.Established, "count"),
            new("connect rate", connectsPerSecond, "connections/s"),
        };
        if (kibPerConnection is { } perConnection)
        {
            summary.Add(new SummaryRow("broker RSS before", rssBefore!.Value, "MiB"));
            summary.Add(new SummaryRow("broker RSS after", rssAfter!.Value, "MiB"));
            summary.Add(new SummaryRow("broker memory per connection", perConnection, "KiB"));
        }

        if (broadcasts.Count > 0)
        {
            summary.Add(new SummaryRow("one update to all, first round", broadcasts[0].LastArrivalMs, "ms"));
            summary.Add(new SummaryRow("one update to all, last round", broadcasts[^1].LastArrivalMs, "ms"));
        }

        if (holdCpu.BrokerCpuPercent is { } idleCpu)
        {
            summary.Add(new SummaryRow("broker CPU, all idle", idleCpu, "%"));
        }

        var result = context.CreateResult(Name, startedUtc, startedAt, problems, summary);
        return result with
        {
            Connections = new ConnectionsResult(
                Requested: connect.Requested,
                Established: connect.Established,
                Failed: connect.Failed,
                FailureSamples: connect.FailureSamples,
                Topics: _topics,
                SourceAddresses: [.. addresses.Select(a => a.ToString())],
                ConnectConcurrency: _concurrency,
                ConnectSeconds: connect.Seconds,
                ConnectionsPerSecond: connectsPerSecond,
                ConnectCpu: connectCpu,
                BrokerRssBeforeMiB: rssBefore,
                BrokerRssAfterMiB: rssAfter,
                BrokerKiBPerConnection: kibPerConnection,
                GeneratorRssMiB: generatorRss,
                Broadcasts: broadcasts,
                BroadcastMissing: missing,
                HoldSeconds: _holdSeconds,
                HoldCpu: holdCpu,
                ClosedDuringHold: closedDuringHold,
                OpenFilesLimit: filesLimit),
        };
    }
}
