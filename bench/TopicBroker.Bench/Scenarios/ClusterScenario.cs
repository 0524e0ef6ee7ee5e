using System.CommandLine;
using System.Globalization;
using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Measurement;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;
using TopicBroker.Testing;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// Issue 11's cluster benchmark: a private PostgreSQL and redis-server, two broker nodes on them
/// (protocol.md "Cluster"), pipelined bridge publishers on both nodes writing to every topic, and
/// WebSocket subscribers of every topic on both nodes. It measures acked updates/s through
/// PostgreSQL across both nodes, delivered frames/s, and publish-to-receive latency split into
/// same-node (the subscriber's node took the publish) and cross-node (it came over Redis), all in
/// one window; every subscriber must see every seq of its topic exactly once, in order.
/// </summary>
internal sealed class ClusterScenario : ISelfHostedScenario
{
    public const int Nodes = 2;

    /// <summary>The issue's targets; missing them is reported, not a failed check (a loaded machine misses them).</summary>
    public const double IngestTarget = 20_000;
    public const double CrossNodeP99Factor = 2;

    // Sized for a 2-core machine that also runs PostgreSQL, Redis, both nodes and this generator.
    private const int DefaultTopics = 4;
    private const int DefaultSubscribersPerTopicPerNode = 2;
    private const int DefaultPublishersPerNode = 2;
    private const int DefaultInFlight = 1024;
    // The nodes start with the scenario, so the warm-up is also their JIT's: on two shared cores
    // tiered compilation takes 10 s or more of the load to reach tier 1 (a perf profile of a 2 s
    // warm-up had a quarter of all CPU in the JIT), and a production node runs warm for days.
    private const double DefaultWarmupSeconds = 15;
    private const double DefaultDurationSeconds = 10;
    private const int IdsPerTopic = 100;
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_ackTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(30);

    private static readonly Option<int?> s_publishers = BenchCommandLine.PositiveInt("--publishers", "<n>", "cluster: bridge publishers per node, each writing to every topic (default 2; --quick 1)", max: 64);
    private static readonly Option<bool> s_noFsync = BenchCommandLine.Flag("--pg-no-fsync", "cluster: run the private PostgreSQL with fsync=off (acks then survive a process crash, not a power loss)");

    private readonly IReadOnlyList<string> _topics;
    private readonly int _subscribersPerTopic;
    private readonly int _publishersPerNode;
    private readonly int _inFlight;
    private readonly double? _rate;
    private readonly double _warmupSeconds;
    private readonly double _durationSeconds;
    private readonly int _payloadBytes;
    private readonly int _receiveBufferBytes;
    private readonly bool _fsync;

    public ClusterScenario(BenchOptions options)
    {
        var quick = options.Quick;
        var topicCount = options.TopicCount ?? (quick ? 2 : DefaultTopics);
        _topics = options.TopicNames ?? [.. Enumerable.Range(0, topicCount).Select(i => string.Create(CultureInfo.InvariantCulture, $"cluster_{i}"))];
        _subscribersPerTopic = options.SubscribersPerTopic ?? options.Subscribers ?? (quick ? 1 : DefaultSubscribersPerTopicPerNode);
        _publishersPerNode = options.Get(s_publishers) ?? (quick ? 1 : DefaultPublishersPerNode);
        _inFlight = options.InFlight ?? (quick ? 128 : DefaultInFlight);
        _rate = options.Rate;
        _warmupSeconds = options.WarmupSeconds ?? (quick ? 0.3 : DefaultWarmupSeconds);
        _durationSeconds = options.DurationSeconds ?? (quick ? 2 : DefaultDurationSeconds);
        _payloadBytes = options.PayloadBytes ?? 200;
        _receiveBufferBytes = options.ReceiveBufferBytes ?? 64 * 1024;
        _fsync = !options.Get(s_noFsync);
    }

    public static ScenarioDefinition Definition { get; } = new(
        "cluster",
        "two nodes on a private PostgreSQL and Redis: acked updates/s, delivered frames/s, same-node vs cross-node latency, every seq once and in order",
        options => [new ClusterScenario(options)])
    {
        Options = [s_publishers, s_noFsync],
        // It needs PostgreSQL 15 and redis-server installed, and takes the whole machine.
        InAll = false,
    };

    public string Name => "cluster";

    public BrokerConfiguration BrokerConfiguration => new(_topics[0], [.. _topics.Select((topic, i) => string.Create(CultureInfo.InvariantCulture, $"--Broker:Topics:{i}={topic}"))]);

    public IReadOnlyList<string> RequiredTopics => _topics;

    public Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("The cluster scenario starts its own servers (RunSelfHostedAsync).");

    public async Task<ScenarioResult> RunSelfHostedAsync(ScenarioHosting hosting, CancellationToken cancellationToken)
    {
        var output = hosting.Output;
        output.WriteLine(
            $"cluster: {Nodes} nodes, {_topics.Count} topics, {_publishersPerNode} publisher(s) per node ({_inFlight} lines in flight each, " +
            $"{(_rate is { } rate ? $"{rate:0} updates/s in total" : "unthrottled")}), {_subscribersPerTopic} subscriber(s) per topic per node, " +
            $"{_payloadBytes}-byte data, PostgreSQL fsync {(_fsync ? "on" : "off")}; warm-up {_warmupSeconds} s, measured {_durationSeconds} s");

        // Every server is disposed in reverse order on every path: a failure, Ctrl+C (the token), or the end.
        await using var postgres = await BenchSetupException.WhenStartFailsAsync(
            "PostgreSQL", PostgresProcess.StartAsync(_fsync, ["max_connections=200", "shared_buffers=256MB"], cancellationToken)).ConfigureAwait(false);
        await using var redis = await BenchSetupException.WhenStartFailsAsync("redis-server", RedisProcess.StartAsync(cancellationToken)).ConfigureAwait(false);
        output.WriteLine($"cluster: PostgreSQL on 127.0.0.1:{postgres.Port}, Redis on {redis.Configuration}");
        var nodes = new List<BenchBroker>();
        try
        {
            var channel = "bench-" + Guid.NewGuid().ToString("N")[..12];
            for (var node = 0; node < Nodes; node++)
            {
                // One after the other: the first migrates the schema.
                nodes.Add(await BenchBroker.StartAsync(hosting.BrokerDll, NodeConfiguration(hosting, postgres, redis, channel, node), hosting.AccessToken, output, cancellationToken)
                    .ConfigureAwait(false));
            }

            var context = new BenchContext(hosting.Options, nodes[0].Target, nodes[0], output, hosting.Interactive, hosting.Results);
            var startedUtc = DateTimeOffset.UtcNow;
            var startedAt = MonotonicClock.Now;
            try
            {
                var result = await MeasureAsync(context, nodes, new Servers(postgres.ProcessId, redis.ProcessId), cancellationToken).ConfigureAwait(false);
                // The first node's counters (GET /api/status: cluster link, applied and committed seqs, backfills, duplicates dropped).
                return result with { BrokerStatus = await context.TryReadBrokerStatusAsync(cancellationToken).ConfigureAwait(false) };
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or TimeoutException or InvalidDataException)
            {
                // A node misbehaved or went away mid-run: this run's failure, with the servers still cleaned up.
                return context.CreateResult(Name, startedUtc, startedAt, [$"the scenario aborted: {ex.GetType().Name}: {ex.Message}", .. NodeProblems(nodes)], []);
            }
        }
        finally
        {
            for (var i = nodes.Count - 1; i >= 0; i--)
            {
                await nodes[i].DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private BrokerConfiguration NodeConfiguration(ScenarioHosting hosting, PostgresProcess postgres, RedisProcess redis, string channel, int node) =>
        BrokerConfiguration with
        {
            ExtraArguments =
            [
                .. BrokerConfiguration.ExtraArguments,
                "--Broker:Storage:Provider=Postgres",
                $"--Broker:Storage:ConnectionString={postgres.ConnectionString}",
                $"--Broker:Cluster:Redis={redis.Configuration}",
                $"--Broker:Cluster:NodeId={NodeName(node)}",
                $"--Broker:Cluster:Channel={channel}",
                "--Broker:Samples:Enabled=false",
                .. hosting.Options.SendQueueCapacity is { } capacity ? [string.Create(CultureInfo.InvariantCulture, $"--Broker:SendQueueCapacity={capacity}")] : Array.Empty<string>(),
                .. hosting.SigningKey is { } key ? [$"--Broker:Auth:SigningKey={key}"] : Array.Empty<string>(),
                .. hosting.Options.BrokerArguments,
            ],
        };

    private static string NodeName(int node) => $"bench-{(char)('a' + node)}";

    private async Task<ScenarioResult> MeasureAsync(BenchContext context, IReadOnlyList<BenchBroker> nodes, Servers servers, CancellationToken cancellationToken)
    {
        var startedUtc = DateTimeOffset.UtcNow;
        var startedAt = MonotonicClock.Now;
        var output = context.Output;
        var problems = new List<string>();
        var notes = new List<string>();
        var pools = new List<SubscriberPool>();
        var bridges = new List<(int Node, BridgeClientConnection Bridge)>();
        try
        {
            // Subscribers first, on every node, each with its snapshot: then every update counts.
            var placements = Enumerable.Range(0, _topics.Count * _subscribersPerTopic).Select(k => new SubscriberPlacement(k % _topics.Count, null)).ToList();
            var connected = 0;
            for (var node = 0; node < nodes.Count; node++)
            {
                var target = nodes[node].Target;
                var pool = new SubscriberPool(target.HttpEndPoint, target.HostHeader, target.AccessToken, [.. _topics.Select(target.WebSocketPath)], _receiveBufferBytes, node);
                pools.Add(pool);
                var connect = await pool.ConnectAsync(placements, concurrency: 50, s_connectTimeout, cancellationToken).ConfigureAwait(false);
                connected += connect.Established;
                if (connect.Failed > 0)
                {
                    problems.Add($"{connect.Failed} of {connect.Requested} subscribers on {NodeName(node)} failed to connect, e.g. {string.Join("; ", connect.FailureSamples)}");
                }
            }

            output.WriteLine($"cluster: {connected} subscribers connected");
            for (var node = 0; node < nodes.Count; node++)
            {
                for (var p = 0; p < _publishersPerNode; p++)
                {
                    bridges.Add((node, await BridgeClientConnection.ConnectAsync(nodes[node].Target.BridgeEndPoint, _inFlight, nodes[node].Target.AccessToken, cancellationToken)
                        .ConfigureAwait(false)));
                }
            }

            var begin = MonotonicClock.Now;
            var window = new MeasurementWindow(
                begin + MonotonicClock.FromSeconds(_warmupSeconds),
                begin + MonotonicClock.FromSeconds(_warmupSeconds + _durationSeconds));
            foreach (var pool in pools)
            {
                pool.Window.Current = window;
            }

            foreach (var (_, bridge) in bridges)
            {
                bridge.BeginCommitWindow(window);
            }

            long Accepted(int? node = null) => bridges.Where(b => node is null || b.Node == node).Sum(b => b.Bridge.Accepted);
            long Delivered() => pools.Sum(p => p.TotalUpdates());
            var lastAccepted = 0L;
            var lastAt = begin;
            string Describe()
            {
                var now = MonotonicClock.Now;
                var accepted = Accepted();
                var perSecond = (accepted - lastAccepted) / Math.Max(MonotonicClock.ToSeconds(now - lastAt), 1e-9);
                lastAccepted = accepted;
                lastAt = now;
                var phase = now < window.StartTimestamp ? "warm-up" : now < window.EndTimestamp ? "measuring" : "draining";
                return $"cluster {phase} {MonotonicClock.ToSeconds(now - begin):0.0}s: acked {accepted:N0} ({perSecond:N0}/s), delivered {Delivered():N0}, " +
                       $"in flight {bridges.Sum(b => b.Bridge.InFlight):N0}";
            }

            var publishers = bridges.Select((b, i) => new ClusterPublisher(b.Bridge, new UpdateLineWriter(_topics, $"{NodeName(b.Node)}-p{i}-", IdsPerTopic, _payloadBytes, origin: b.Node)))
                .ToList();
            NodeCpu cpuStart;
            NodeCpu cpuEnd;
            long acceptedStart, acceptedEnd, deliveredStart, deliveredEnd;
            long[] acceptedPerNode = new long[nodes.Count];
            bool allAnswered = true;
            bool drained;
            await using (context.StartProgress(Describe))
            {
                var running = publishers.Select(p => _rate is { } rate
                    ? p.RunPacedAsync(rate / publishers.Count, window.EndTimestamp, cancellationToken)
                    : p.RunPipelinedAsync(window.EndTimestamp, cancellationToken)).ToList();
                try
                {
                    await MonotonicClock.DelayUntilAsync(window.StartTimestamp, cancellationToken).ConfigureAwait(false);
                    cpuStart = NodeCpu.Take(nodes, servers);
                    acceptedStart = Accepted();
                    deliveredStart = Delivered();
                    for (var node = 0; node < nodes.Count; node++)
                    {
                        acceptedPerNode[node] = -Accepted(node);
                    }

                    await MonotonicClock.DelayUntilAsync(window.EndTimestamp, cancellationToken).ConfigureAwait(false);
                    cpuEnd = NodeCpu.Take(nodes, servers);
                    acceptedEnd = Accepted();
                    deliveredEnd = Delivered();
                    for (var node = 0; node < nodes.Count; node++)
                    {
                        acceptedPerNode[node] += Accepted(node);
                    }
                }
                finally
                {
                    // The publishers stop by themselves at the window's end (or on cancellation); awaited on every path.
                    await Task.WhenAll(running).ConfigureAwait(false);
                }

                foreach (var (node, bridge) in bridges)
                {
                    var answered = bridge.Failure is null && await bridge.WaitForAllAnsweredAsync(s_ackTimeout, cancellationToken).ConfigureAwait(false);
                    if (!answered)
                    {
                        problems.Add($"a publisher on {NodeName(node)} has {bridge.InFlight} lines never answered ({bridge.Failure ?? "timeout"})");
                    }

                    allAnswered &= answered;
                }

                drained = await WaitForDrainAsync(pools, ExpectedSeqs(publishers), cancellationToken).ConfigureAwait(false);
            }

            foreach (var pool in pools)
            {
                pool.Window.Current = null;
            }

            var expected = ExpectedSeqs(publishers);
            var checks = Check(pools, expected);
            var windowSeconds = cpuEnd.Timestamp - cpuStart.Timestamp is var ticks && ticks > 0 ? MonotonicClock.ToSeconds(ticks) : window.Seconds;
            var rejected = bridges.Sum(b => b.Bridge.Rejected);
            if (rejected > 0)
            {
                problems.Add($"the nodes rejected {rejected} bridge lines, e.g. {string.Join("; ", bridges.SelectMany(b => b.Bridge.RejectionSamples).Take(3))}");
            }

            if (!drained)
            {
                problems.Add($"subscribers had not received every acked update {s_drainTimeout.TotalSeconds:0} s after publishing stopped");
            }

            if (checks.Lost > 0)
            {
                problems.Add($"{checks.Lost} frames lost (seqs some subscriber never received)");
            }

            if (checks.Duplicates > 0 || checks.OutOfOrder > 0)
            {
                problems.Add($"{checks.Duplicates} duplicate and {checks.OutOfOrder} out-of-order updates");
            }

            if (checks.Unparsed > 0)
            {
                problems.Add($"{checks.Unparsed} update frames without the expected ts/n/o/seq fields");
            }

            if (checks.Closed > 0)
            {
                problems.Add($"{checks.Closed} subscribers were closed during the run, e.g. {checks.CloseSample}");
            }

            if (acceptedEnd - acceptedStart == 0)
            {
                problems.Add("nothing was acked in the measured window");
            }

            problems.AddRange(NodeProblems(nodes.Skip(1)));
            var sameNode = window.Recorder.Merge().Summarize();
            var crossNode = window.CrossNodeRecorder.Merge().Summarize();
            var commit = new LatencyHistogram();
            foreach (var (_, bridge) in bridges)
            {
                commit.Add(bridge.CommitLatency);
            }

            var ackedPerSecond = (acceptedEnd - acceptedStart) / Math.Max(windowSeconds, 1e-9);
            var ingestMet = ackedPerSecond >= IngestTarget;
            var latencyMet = sameNode.Count > 0 && crossNode.Count > 0 && crossNode.P99Ms <= CrossNodeP99Factor * sameNode.P99Ms;
            var lossMet = checks.Lost == 0 && checks.Duplicates == 0 && checks.OutOfOrder == 0 && drained;
            notes.Add($"target >= {IngestTarget:N0} acked updates/s across both nodes: {(ingestMet ? "met" : "missed")} ({ackedPerSecond:N0}/s)");
            notes.Add($"target cross-node p99 <= {CrossNodeP99Factor}x same-node p99: {(latencyMet ? "met" : "missed")} ({Format.Ms(crossNode.P99Ms)} vs {Format.Ms(sameNode.P99Ms)} ms)");
            notes.Add($"target zero loss: {(lossMet ? "met" : "missed")}");
            if (_rate is null)
            {
                notes.Add("unthrottled: every publisher keeps its in-flight window full, so latencies include the wait for the group commit (see commit p50/p99); --rate gives them at a fixed load");
            }

            var result = new ClusterResult(
                Nodes: nodes.Count,
                Topics: _topics.Count,
                PublishersPerNode: _publishersPerNode,
                InFlightPerPublisher: _inFlight,
                SubscribersPerTopicPerNode: _subscribersPerTopic,
                OfferedUpdatesPerSecond: _rate,
                PayloadBytes: _payloadBytes,
                PostgresFsync: _fsync,
                WindowSeconds: windowSeconds,
                AckedPerSecond: ackedPerSecond,
                AckedPerSecondPerNode: [.. acceptedPerNode.Select(a => a / Math.Max(windowSeconds, 1e-9))],
                DeliveredFramesPerSecond: (deliveredEnd - deliveredStart) / Math.Max(windowSeconds, 1e-9),
                Acked: acceptedEnd,
                Rejected: rejected,
                AllAnswered: allAnswered,
                CommitLatency: commit.Summarize(),
                SameNodeLatency: sameNode,
                CrossNodeLatency: crossNode,
                CrossToSameP99: sameNode.P99Ms > 0 ? crossNode.P99Ms / sameNode.P99Ms : null,
                Subscribers: checks.Subscribers,
                FramesChecked: checks.Updates,
                FramesLost: checks.Lost,
                Duplicates: checks.Duplicates,
                OutOfOrder: checks.OutOfOrder,
                SubscribersClosed: checks.Closed,
                Drained: drained,
                CommittedSeqs: expected,
                NodeCpuPercent: [.. cpuStart.Nodes.Zip(cpuEnd.Nodes, (a, b) => NodeCpu.Percent(a, b, windowSeconds))],
                PostgresCpuPercent: NodeCpu.Percent(cpuStart.Postgres, cpuEnd.Postgres, windowSeconds),
                RedisCpuPercent: NodeCpu.Percent(cpuStart.Redis, cpuEnd.Redis, windowSeconds),
                GeneratorCpuPercent: NodeCpu.Percent(cpuStart.Generator, cpuEnd.Generator, windowSeconds) ?? 0,
                IngestTargetMet: ingestMet,
                LatencyTargetMet: latencyMet,
                ZeroLossMet: lossMet);
            output.WriteLine(
                $"cluster: {ackedPerSecond:N0} acked/s ({string.Join(" + ", result.AckedPerSecondPerNode.Select(a => a.ToString("N0", CultureInfo.InvariantCulture)))}), " +
                $"{result.DeliveredFramesPerSecond:N0} frames/s, same-node p50/p99 {Format.Ms(sameNode.P50Ms)}/{Format.Ms(sameNode.P99Ms)} ms, " +
                $"cross-node p50/p99 {Format.Ms(crossNode.P50Ms)}/{Format.Ms(crossNode.P99Ms)} ms, lost {checks.Lost}, duplicates {checks.Duplicates}, out of order {checks.OutOfOrder}");
            output.WriteLine(
                $"cluster: CPU in the window (% of one core, {Environment.ProcessorCount} cores): nodes {string.Join(" + ", result.NodeCpuPercent.Select(cpu => Format.Fixed(cpu)))}, " +
                $"PostgreSQL {Format.Fixed(result.PostgresCpuPercent)}, Redis {Format.Fixed(result.RedisCpuPercent)}, generator {Format.Fixed(result.GeneratorCpuPercent)}");
            return context.CreateResult(Name, startedUtc, startedAt, problems, Summarize(result)) with { Notes = notes, Cluster = result };
        }
        finally
        {
            foreach (var (_, bridge) in bridges)
            {
                await bridge.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var pool in pools)
            {
                await pool.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The seq each topic must end at: every line was acked (or the run fails on its rejections), on a fresh database.</summary>
    private long[] ExpectedSeqs(IReadOnlyList<ClusterPublisher> publishers)
    {
        var expected = new long[_topics.Count];
        foreach (var publisher in publishers)
        {
            var perTopic = publisher.PublishedPerTopic();
            for (var t = 0; t < expected.Length; t++)
            {
                expected[t] += perTopic[t];
            }
        }

        return expected;
    }

    private static async Task<bool> WaitForDrainAsync(IReadOnlyList<SubscriberPool> pools, long[] expected, CancellationToken cancellationToken)
    {
        var deadline = MonotonicClock.Now + MonotonicClock.FromSeconds(s_drainTimeout.TotalSeconds);
        while (pools.SelectMany(p => p.Subscribers).Any(s => s.IsOpen && s.LastSeq < expected[s.TopicIndex]))
        {
            if (MonotonicClock.Now >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    private static FrameChecks Check(IReadOnlyList<SubscriberPool> pools, long[] expected)
    {
        var checks = new FrameChecks();
        foreach (var subscriber in pools.SelectMany(p => p.Subscribers))
        {
            checks.Subscribers++;
            checks.Updates += subscriber.Updates;
            // Gaps inside the stream, and the seqs it never got to.
            checks.Lost += subscriber.Missing + Math.Max(0, expected[subscriber.TopicIndex] - subscriber.LastSeq);
            checks.Duplicates += subscriber.Duplicates;
            checks.OutOfOrder += subscriber.SeqRegressions;
            checks.Unparsed += subscriber.UnparsedUpdates;
            if (!subscriber.IsOpen)
            {
                checks.Closed++;
                checks.CloseSample ??= subscriber.CloseStatus is { } status ? $"{status} {subscriber.CloseReason}" : subscriber.Failure;
            }
        }

        return checks;
    }

    private static IEnumerable<string> NodeProblems(IEnumerable<BenchBroker> nodes) =>
        nodes.Where(n => n.OutputLines > 0).Select(n =>
            $"the node on {n.Target.HttpBase} logged {n.OutputLines} warning/error line(s); the first: {n.FirstRunOutput}; the last: {n.LastOutput.LastOrDefault()}");

    private static IReadOnlyList<SummaryRow> Summarize(ClusterResult result) =>
    [
        new("acked through PostgreSQL (both nodes)", result.AckedPerSecond, "updates/s"),
        new("delivered", result.DeliveredFramesPerSecond, "frames/s"),
        new("same-node latency p50", result.SameNodeLatency.P50Ms, "ms"),
        new("same-node latency p99", result.SameNodeLatency.P99Ms, "ms"),
        new("cross-node latency p50", result.CrossNodeLatency.P50Ms, "ms"),
        new("cross-node latency p99", result.CrossNodeLatency.P99Ms, "ms"),
        new("commit p99", result.CommitLatency.P99Ms, "ms"),
        new("frames checked", result.FramesChecked, "count"),
        new("frames lost", result.FramesLost, "count"),
        new("duplicates", result.Duplicates, "count"),
        new("out of order", result.OutOfOrder, "count"),
    ];

    private sealed class FrameChecks
    {
        public int Subscribers { get; set; }

        public long Updates { get; set; }

        public long Lost { get; set; }

        public long Duplicates { get; set; }

        public long OutOfOrder { get; set; }

        public long Unparsed { get; set; }

        public int Closed { get; set; }

        public string? CloseSample { get; set; }
    }

    /// <summary>CPU time of every node (null where /proc could not be read) and of this generator at one instant.</summary>
    /// <summary>The pids of the PostgreSQL and Redis servers, whose CPU the run reports beside the nodes'.</summary>
    private sealed record Servers(int Postgres, int Redis);

    private sealed record NodeCpu(long Timestamp, IReadOnlyList<TimeSpan?> Nodes, TimeSpan? Postgres, TimeSpan? Redis, TimeSpan Generator)
    {
        public static NodeCpu Take(IReadOnlyList<BenchBroker> nodes, Servers servers) =>
            new(
                MonotonicClock.Now,
                [.. nodes.Select(n => ProcessMetrics.TryReadCpuTime(n.ProcessId))],
                ProcessMetrics.TryReadTreeCpuTime(servers.Postgres),
                ProcessMetrics.TryReadTreeCpuTime(servers.Redis),
                ProcessMetrics.CurrentProcessCpuTime());

        /// <summary>Percent of one core from <paramref name="start"/> to <paramref name="end"/> over <paramref name="seconds"/>.</summary>
        public static double? Percent(TimeSpan? start, TimeSpan? end, double seconds) =>
            start is { } a && end is { } b ? (b - a).TotalSeconds / Math.Max(seconds, 1e-9) * 100 : null;
    }
}
