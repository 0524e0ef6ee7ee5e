using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Measurement;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;
using TopicBroker.Bench.Scenarios;

namespace TopicBroker.Bench.Chaos;

/// <summary>
/// The chaos run: for <c>--minutes</c> bridge and HTTP publishers and fast, slow, resuming
/// and churning subscribers keep running while the broker (a child process) is stopped at
/// random moments (seeded, printed) with SIGKILL or SIGTERM and started again on the same
/// database and ports, and malformed input is fed in. After every stop the SQLite file is read:
/// every acked change must be in it. Every subscriber checks every frame (ChaosSubscriber), the
/// broker's RSS is sampled every second against <c>--max-rss-mib</c>, and at the end every
/// subscriber that stayed or resumed must have reached the topic's last seq.
/// </summary>
internal sealed class ChaosScenario : IScenario
{
    private const double DefaultMinutes = 10;
    private const double QuickMinutes = 0.4;
    private const double DefaultMeanUptimeSeconds = 15;
    private const double QuickMeanUptimeSeconds = 6;
    private const double DefaultRate = 240;
    private const double DefaultMaxRssMiB = 512;

    /// <summary>Small enough that a stalled subscriber overflows it within seconds (1013, then a resume).</summary>
    private const int SendQueueCapacity = 256;
    private const int HistorySize = 10_000;
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(30);
    private static readonly string[] s_topics = ["chaos_a", "chaos_b"];

    private static readonly Option<double?> s_minutes = BenchCommandLine.Positive("--minutes", "<m>", "chaos: how long to run (default 10; --quick 0.4)");
    private static readonly Option<int?> s_seed = BenchCommandLine.PositiveInt("--seed", "<n>", "chaos: seed of the stop schedule and the clients (default: random, printed)", max: int.MaxValue);
    private static readonly Option<double?> s_meanUptime = BenchCommandLine.Positive("--mean-uptime", "<s>", "chaos: mean seconds between stops, each uniform in 0.5x..1.5x (default 15; --quick 6)");
    private static readonly Option<double?> s_maxRss = BenchCommandLine.Positive("--max-rss-mib", "<MiB>", "chaos: the broker's RSS must stay below this (default 512)");

    private readonly double _minutes;
    private readonly int _seed;
    private readonly double _meanUptime;
    private readonly double _maxRssMiB;
    private readonly double _rate;
    private readonly int _sendQueueCapacity;

    public ChaosScenario(BenchOptions options)
    {
        _minutes = options.Get(s_minutes) ?? (options.Quick ? QuickMinutes : DefaultMinutes);
        _seed = options.Get(s_seed) ?? Random.Shared.Next(1, int.MaxValue);
        _meanUptime = options.Get(s_meanUptime) ?? (options.Quick ? QuickMeanUptimeSeconds : DefaultMeanUptimeSeconds);
        _maxRssMiB = options.Get(s_maxRss) ?? DefaultMaxRssMiB;
        _rate = options.Rate ?? DefaultRate;
        _sendQueueCapacity = options.SendQueueCapacity ?? SendQueueCapacity;
    }

    public static ScenarioDefinition Definition { get; } = new(
        "chaos",
        "publishers and subscribers run while the broker is SIGKILLed/SIGTERMed and restarted at random; checks every ack is stored and delivered once, in order",
        options => [new ChaosScenario(options)])
    {
        Options = [s_minutes, s_seed, s_meanUptime, s_maxRss],
        InAll = false,
    };

    public string Name => "chaos";

    public BrokerConfiguration BrokerConfiguration => new(
        s_topics[0],
        [
            .. s_topics.Select((topic, i) => string.Create(CultureInfo.InvariantCulture, $"--Broker:Topics:{i}={topic}")),
            string.Create(CultureInfo.InvariantCulture, $"--Broker:SendQueueCapacity={_sendQueueCapacity}"),
            string.Create(CultureInfo.InvariantCulture, $"--Broker:MaxIngestBatch={_sendQueueCapacity / 2}"),
            string.Create(CultureInfo.InvariantCulture, $"--Broker:HistorySize={HistorySize}"),
            "--Broker:ShutdownReconnectSpread=00:00:01",
        ]);

    public IReadOnlyList<string> RequiredTopics => s_topics;

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var broker = context.OwnedBroker ?? throw new BenchSetupException("chaos stops and restarts the broker, so it must start it itself; --url cannot be used.");
        var startedUtc = DateTimeOffset.UtcNow;
        var startedAt = MonotonicClock.Now;
        var output = context.Output;
        var random = new Random(_seed);
        var violations = new ChaosViolations(output, startedAt);
        var counters = new ChaosCounters();
        var state = new BrokerState(broker.Target);
        var ledgers = s_topics.Select(t => new TopicLedger(t)).ToList();
        var replayLimit = _sendQueueCapacity / 2;
        var stopLog = new List<string>();
        var peakRssPerIncarnation = new List<double> { 0 };
        double peakRss = 0;
        int stops = 0, kills = 0, terms = 0, restarts = 0, restartRetries = 0;
        long storeComparisons = 0;

        output.WriteLine(
            $"chaos: seed {_seed}, {_minutes} min, a stop every {_meanUptime * 0.5:0.#}-{_meanUptime * 1.5:0.#} s (SIGKILL or SIGTERM), " +
            $"{_rate} changes/s over topics {string.Join(",", s_topics)}, broker SendQueueCapacity {_sendQueueCapacity}, RSS limit {_maxRssMiB} MiB");
        string Stamp() => $"[{MonotonicClock.ToSeconds(MonotonicClock.Now - startedAt),7:0.0}s]";

        using var stopPublishers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stopSubscribers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var publishers = new List<Task>
        {
            new BridgePublisher("b0", state, ledgers, _rate * 0.35, random.Next(), counters, violations).RunAsync(stopPublishers.Token),
            new BridgePublisher("b1", state, ledgers, _rate * 0.35, random.Next(), counters, violations).RunAsync(stopPublishers.Token),
            new HttpPublisher("h0", state, ledgers, _rate * 0.15, random.Next(), counters, violations).RunAsync(stopPublishers.Token),
            new HttpPublisher("h1", state, ledgers, _rate * 0.15, random.Next(), counters, violations).RunAsync(stopPublishers.Token),
            new MalformedInput(s_topics[0], state, counters, violations, random.Next()).RunAsync(stopPublishers.Token),
        };
        var subscribers = new List<ChaosSubscriber>();
        foreach (var ledger in ledgers)
        {
            foreach (var (kind, count) in new[] { (SubscriberKind.Fast, 2), (SubscriberKind.Slow, 1), (SubscriberKind.Resuming, 2), (SubscriberKind.Churning, 1) })
            {
                for (var i = 0; i < count; i++)
                {
                    subscribers.Add(new ChaosSubscriber($"{kind.ToString().ToLowerInvariant()}-{i}", kind, ledger, state, replayLimit, random.Next(), counters, violations));
                }
            }
        }

        var subscriberTasks = subscribers.Select(s => s.RunAsync(stopSubscribers.Token)).ToList();

        void SampleMemory()
        {
            if (state.IsUp && !broker.HasExited && ProcessMetrics.TryReadResidentKiB(broker.ProcessId) is { } kib)
            {
                var mib = kib / 1024.0;
                peakRss = Math.Max(peakRss, mib);
                peakRssPerIncarnation[^1] = Math.Max(peakRssPerIncarnation[^1], mib);
                if (mib > _maxRssMiB)
                {
                    violations.Add(ChaosViolations.Memory, $"broker pid {broker.ProcessId} RSS {mib:0.0} MiB over the {_maxRssMiB} MiB limit");
                }
            }
        }

        string Describe() =>
            $"chaos {MonotonicClock.ToSeconds(MonotonicClock.Now - startedAt):0}s: stops {stops}, acked {counters.AckedBridge + counters.AckedHttp:N0}, " +
            $"frames checked {Interlocked.Read(ref counters.FramesChecked):N0}, violations {violations.Total}, broker RSS peak {peakRss:0} MiB";

        var endAt = startedAt + MonotonicClock.FromSeconds(_minutes * 60);
        await using (context.StartProgress(Describe))
        {
            try
            {
                while (MonotonicClock.Now < endAt)
                {
                    // Up for a while, sampling memory every second.
                    var uptime = _meanUptime * (0.5 + random.NextDouble());
                    var stopAt = Math.Min(endAt, MonotonicClock.Now + MonotonicClock.FromSeconds(uptime));
                    while (MonotonicClock.Now < stopAt)
                    {
                        SampleMemory();
                        await MonotonicClock.DelayUntilAsync(Math.Min(stopAt, MonotonicClock.Now + MonotonicClock.FromSeconds(1)), cancellationToken).ConfigureAwait(false);
                    }

                    if (MonotonicClock.Now >= endAt)
                    {
                        break;
                    }

                    var kill = random.Next(2) == 0;
                    var pid = broker.ProcessId;
                    state.MarkDown();
                    var exitedInTime = await broker.StopAsync(kill, TimeSpan.FromSeconds(20), cancellationToken).ConfigureAwait(false);
                    stops++;
                    if (kill)
                    {
                        kills++;
                    }
                    else
                    {
                        terms++;
                    }

                    var when = $"stop {stops} ({(kill ? "SIGKILL" : "SIGTERM")}, pid {pid})";
                    if (!kill && !exitedInTime)
                    {
                        violations.Add(ChaosViolations.Shutdown, $"{when}: the broker did not exit within 20 s of SIGTERM and was killed");
                    }

                    var compared = StoreCheck.Run(broker.DatabasePath, ledgers, HistorySize, violations, when);
                    storeComparisons += compared;
                    var line = $"{Stamp()} {when} after {uptime:0.0} s up, exit code {broker.ExitCode}; store: {compared:N0} acked changes compared, " +
                               $"seqs {string.Join(", ", ledgers.Select(l => $"{l.Topic} {StoreCheck.TopicSeq(broker.DatabasePath, l.Topic)}"))}";

                    // Down for up to a second, then the same database and ports again.
                    await Task.Delay(TimeSpan.FromSeconds(random.NextDouble()), cancellationToken).ConfigureAwait(false);
                    var restartedAt = MonotonicClock.Now;
                    for (var attempt = 1; ; attempt++)
                    {
                        try
                        {
                            await broker.RestartAsync(cancellationToken).ConfigureAwait(false);
                            break;
                        }
                        catch (BenchSetupException ex) when (attempt < 5)
                        {
                            // The old ports may still be held for a moment (TIME_WAIT, another process).
                            restartRetries++;
                            output.WriteLine($"{Stamp()} restart attempt {attempt} failed: {ex.Message.Split('\n')[0]}");
                            await Task.Delay(TimeSpan.FromSeconds(attempt), cancellationToken).ConfigureAwait(false);
                        }
                    }

                    restarts++;
                    peakRssPerIncarnation.Add(0);
                    state.MarkUp(broker.Target);
                    line += $"; restarted in {MonotonicClock.ToSeconds(MonotonicClock.Now - restartedAt):0.0} s (pid {broker.ProcessId})";
                    stopLog.Add(line);
                    output.WriteLine(line);
                }

                // The end: publishers stop, every subscriber that stays or resumes must reach the last seq.
                await stopPublishers.CancelAsync().ConfigureAwait(false);
                await AwaitAllAsync(publishers).ConfigureAwait(false);
                await DrainAsync(context, subscribers, state, violations, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await stopPublishers.CancelAsync().ConfigureAwait(false);
                await stopSubscribers.CancelAsync().ConfigureAwait(false);
                await AwaitAllAsync(publishers).ConfigureAwait(false);
                await AwaitAllAsync(subscriberTasks).ConfigureAwait(false);
            }
        }

        // A last graceful stop and store check, with every client gone.
        state.MarkDown();
        await broker.StopAsync(kill: false, TimeSpan.FromSeconds(20), cancellationToken).ConfigureAwait(false);
        storeComparisons += StoreCheck.Run(broker.DatabasePath, ledgers, HistorySize, violations, "final stop");

        var acked = counters.AckedBridge + counters.AckedHttp;
        var byInvariant = violations.Counts;
        string Verdict(params string[] names) => names.Sum(n => byInvariant.GetValueOrDefault(n)) is var v and > 0 ? $"VIOLATED ({v})" : "ok";
        List<string> invariants =
        [
            $"durable: every acked change ({acked:N0}: {counters.AckedBridge:N0} bridge, {counters.AckedHttp:N0} HTTP) in the store after each of {stops + 1} stops, {storeComparisons:N0} comparisons — {Verdict(ChaosViolations.Durable)}",
            $"order: every subscriber chain in seq order, no gap, no duplicate, across {counters.Resumes:N0} resumes with since= — {Interlocked.Read(ref counters.FramesChecked):N0} update frames checked — {Verdict(ChaosViolations.Order)}",
            $"seq identity: a seq is one change, the same for the publisher's ack and every subscriber — {Verdict(ChaosViolations.SeqIdentity)}",
            $"snapshots only where protocol.md sends one and holding every change acked before the connect: {counters.FreshSnapshots:N0} fresh, {counters.SnapshotResets:N0} on resumes that missed over {replayLimit} — {Verdict(ChaosViolations.Snapshot)}",
            $"drain: every subscriber that stays or resumes reached the last seq — {Verdict(ChaosViolations.Drain)}",
            $"shutdown: SIGTERM ends the broker, resumeFrom never ahead of what was delivered ({counters.ShutdownFrames:N0} shutdown frames) — {Verdict(ChaosViolations.Shutdown)}",
            $"memory: broker RSS below {_maxRssMiB} MiB, peak {peakRss:0.0} MiB — {Verdict(ChaosViolations.Memory)}",
            $"malformed input answered as documented: {counters.MalformedDocumented:N0} of {counters.MalformedSent:N0} cases ({counters.MalformedInterrupted:N0} cut short by a stop) — {Verdict(ChaosViolations.Malformed)}",
        ];

        output.WriteLine($"chaos: seed {_seed}; {stops} stops ({kills} SIGKILL, {terms} SIGTERM), {restarts} restarts ({restartRetries} retried), " +
                         $"{acked:N0} acked changes, {counters.Unanswered:N0} unanswered (lost to a stop, fate unknown), rejected {Join(counters.Rejections)}");
        output.WriteLine($"chaos: {counters.Connects:N0} subscriber connects ({counters.ConnectFailures:N0} refused while down), closes {Join(counters.Closes)}");
        foreach (var invariant in invariants)
        {
            output.WriteLine($"invariant {invariant}");
        }

        output.WriteLine(violations.Total == 0 ? "chaos: no violation" : $"chaos: {violations.Total} violation(s): {Join(byInvariant)}");

        var problems = violations.Samples.Take(20).ToList();
        if (violations.Total > problems.Count)
        {
            problems.Add($"... {violations.Total} violations in all");
        }

        var notes = new List<string>();
        if (broker.OutputLines > 0)
        {
            notes.Add($"the broker logged {broker.OutputLines} warning/error line(s) over its restarts; the first: {broker.FirstRunOutput}; the last: {broker.LastOutput.LastOrDefault()}");
        }

        var result = context.CreateResult(
            Name,
            startedUtc,
            startedAt,
            problems,
            [
                new SummaryRow("stops (SIGKILL + SIGTERM)", stops, "count"),
                new SummaryRow("restarts", restarts, "count"),
                new SummaryRow("acked changes", acked, "count"),
                new SummaryRow("update frames checked", Interlocked.Read(ref counters.FramesChecked), "count"),
                new SummaryRow("violations", violations.Total, "count"),
                new SummaryRow("broker RSS peak", peakRss, "MiB"),
            ],
            brokerOutputIsAProblem: false);
        return result with
        {
            Notes = notes,
            Chaos = new ChaosResult(
                _seed, _minutes, stops, kills, terms, restarts, restartRetries, counters.AckedBridge, counters.AckedHttp, counters.Unanswered, counters.Rejections,
                storeComparisons, Interlocked.Read(ref counters.FramesChecked), counters.Connects, counters.Resumes, counters.SnapshotResets, counters.FreshSnapshots,
                counters.ShutdownFrames, counters.Closes, counters.MalformedSent, counters.MalformedDocumented, counters.MalformedInterrupted,
                peakRss, _maxRssMiB, peakRssPerIncarnation, violations.Total, byInvariant, violations.Samples, invariants, stopLog),
        };
    }

    /// <summary>Waits until every subscriber but the churning ones has the topic's last seq, read from the broker's snapshot.</summary>
    private static async Task DrainAsync(BenchContext context, IReadOnlyList<ChaosSubscriber> subscribers, BrokerState state, ChaosViolations violations, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = state.Target.HttpBase, Timeout = TimeSpan.FromSeconds(10) };
        context.Authorize(http);
        var finalSeq = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var topic in subscribers.Select(s => s.Ledger.Topic).Distinct())
        {
            var body = await http.GetStringAsync($"api/topics/{topic}", cancellationToken).ConfigureAwait(false);
            using var snapshot = JsonDocument.Parse(body);
            finalSeq[topic] = snapshot.RootElement.GetProperty("seq").GetInt64();
        }

        var waiting = subscribers.Where(s => s.Kind != SubscriberKind.Churning).ToList();
        foreach (var subscriber in waiting)
        {
            // A screen that is merely slow catches up once the load stops; one that never reads
            // fast enough would never be done.
            subscriber.CatchUp();
        }

        var deadline = MonotonicClock.Now + MonotonicClock.FromSeconds(s_drainTimeout.TotalSeconds);
        while (waiting.Any(s => s.LastSeq < finalSeq[s.Ledger.Topic]) && MonotonicClock.Now < deadline)
        {
            // The subscribers are other tasks of this process; their progress is polled on the clock.
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        foreach (var subscriber in waiting.Where(s => s.LastSeq < finalSeq[s.Ledger.Topic]))
        {
            violations.Add(ChaosViolations.Drain, $"{subscriber.Name} on {subscriber.Ledger.Topic} stopped at seq {subscriber.LastSeq}; the topic is at {finalSeq[subscriber.Ledger.Topic]}");
        }
    }

    private static async Task AwaitAllAsync(IEnumerable<Task> tasks)
    {
        foreach (var task in tasks)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static string Join(IReadOnlyDictionary<string, long> counts) =>
        counts.Count == 0 ? "none" : string.Join(", ", counts.Select(c => $"{c.Key} x{c.Value:N0}"));
}
