using System.Net;
using System.Net.Http.Headers;
using System.Text;
using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Measurement;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// How many updates per second the broker accepts and commits: over the TCP bridge with 1 and 4
/// pipelined connections (a bounded number of unanswered lines each), and over HTTP publish with
/// a fixed number of concurrent requests. Every line must be answered <c>{"ok":true,...}</c>.
/// </summary>
internal sealed class IngestScenario : IScenario
{
    public static ScenarioDefinition Definition { get; } = new("ingest", "acked updates/s over the TCP bridge (1 and 4 connections) and over HTTP publish", options => [new IngestScenario(options)]);

    private const int DefaultInFlight = 2048;
    private const int DefaultHttpConcurrency = 16;
    private const double DefaultWarmupSeconds = 1;
    private const double DefaultDurationSeconds = 5;
    private const int IdsPerConnection = 1000;
    private const int BatchBytes = 128 * 1024;
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(60);

    private readonly string _topic;
    private readonly int _inFlight;
    private readonly IReadOnlyList<int> _connectionCounts;
    private readonly int _httpConcurrency;
    private readonly double _warmupSeconds;
    private readonly double _durationSeconds;
    private readonly int _payloadBytes;

    public IngestScenario(BenchOptions options)
    {
        var quick = options.Quick;
        _topic = options.TopicNames?[0] ?? "robots";
        _inFlight = options.InFlight ?? (quick ? 256 : DefaultInFlight);
        _connectionCounts = options.IngestConnections ?? [1, 4];
        _httpConcurrency = options.HttpConcurrency ?? (quick ? 4 : DefaultHttpConcurrency);
        _warmupSeconds = options.WarmupSeconds ?? (quick ? 0.2 : DefaultWarmupSeconds);
        _durationSeconds = options.DurationSeconds ?? (quick ? 0.5 : DefaultDurationSeconds);
        _payloadBytes = options.PayloadBytes ?? 200;
    }

    public string Name => "ingest";

    public BrokerConfiguration BrokerConfiguration => new(_topic, []);

    public IReadOnlyList<string> RequiredTopics => [_topic];

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var startedUtc = DateTimeOffset.UtcNow;
        var startedAt = MonotonicClock.Now;
        var problems = new List<string>();
        var modes = new List<IngestMode>();
        context.Output.WriteLine(
            $"ingest: topic {_topic}, {_payloadBytes}-byte data, bridge x{string.Join("/x", _connectionCounts)} with {_inFlight} lines in flight each, " +
            $"HTTP with {_httpConcurrency} concurrent requests; warm-up {_warmupSeconds} s, measured {_durationSeconds} s each");

        foreach (var connections in _connectionCounts)
        {
            var mode = await RunBridgeAsync(context, connections, cancellationToken).ConfigureAwait(false);
            modes.Add(mode);
            Report(context, mode, problems);
        }

        var http = await RunHttpAsync(context, cancellationToken).ConfigureAwait(false);
        modes.Add(http);
        Report(context, http, problems);

        var summary = new List<SummaryRow>();
        foreach (var mode in modes)
        {
            summary.Add(new SummaryRow($"{mode.Name} acked", mode.AcceptedPerSecond, "updates/s"));
            summary.Add(new SummaryRow($"{mode.Name} commit p99", mode.CommitLatency.P99Ms, "ms"));
            if (mode.BrokerCpuMicrosecondsPerUpdate is { } perUpdate)
            {
                summary.Add(new SummaryRow($"{mode.Name} broker CPU per update", perUpdate, "µs"));
            }
        }

        var result = context.CreateResult(Name, startedUtc, startedAt, problems, summary);
        return result with { Ingest = new IngestResult(_payloadBytes, modes) };
    }

    private static void Report(BenchContext context, IngestMode mode, List<string> problems)
    {
        context.Output.WriteLine(
            $"ingest {mode.Name}: {mode.AcceptedPerSecond:N0} acked/s, commit p50 {Format.Ms(mode.CommitLatency.P50Ms)} ms, " +
            $"p99 {Format.Ms(mode.CommitLatency.P99Ms)} ms, broker CPU {Format.Fixed(mode.Cpu.BrokerCpuPercent)} %");
        if (mode.Rejected > 0)
        {
            problems.Add($"{mode.Name}: {mode.Rejected} updates rejected, e.g. {string.Join("; ", mode.RejectionSamples)}");
        }

        if (!mode.AllAnswered)
        {
            problems.Add($"{mode.Name}: {mode.Sent - mode.Accepted - mode.Rejected} updates never answered");
        }

        if (mode.AcceptedInWindow == 0)
        {
            problems.Add($"{mode.Name}: nothing was acked in the measured window");
        }
    }

    private async Task<IngestMode> RunBridgeAsync(BenchContext context, int connections, CancellationToken cancellationToken)
    {
        var name = $"bridge x{connections}";
        var bridges = new List<BridgeClientConnection>();
        try
        {
            for (var i = 0; i < connections; i++)
            {
                bridges.Add(await context.ConnectBridgeAsync(_inFlight, cancellationToken).ConfigureAwait(false));
            }

            var begin = MonotonicClock.Now;
            var window = new MeasurementWindow(
                begin + MonotonicClock.FromSeconds(_warmupSeconds),
                begin + MonotonicClock.FromSeconds(_warmupSeconds + _durationSeconds));
            foreach (var bridge in bridges)
            {
                bridge.BeginCommitWindow(window);
            }

            long Accepted() => bridges.Sum(b => b.Accepted);
            var last = 0L;
            var lastAt = begin;
            string Describe()
            {
                var now = MonotonicClock.Now;
                var accepted = Accepted();
                var rate = (accepted - last) / Math.Max(MonotonicClock.ToSeconds(now - lastAt), 1e-9);
                last = accepted;
                lastAt = now;
                return $"ingest {name}: {MonotonicClock.ToSeconds(now - begin):0.0}s acked {accepted:N0} ({rate:N0}/s), in flight {bridges.Sum(b => b.InFlight):N0}";
            }

            CpuSnapshot cpuStart;
            CpuSnapshot cpuEnd;
            long acceptedStart;
            long acceptedEnd;
            var allAnswered = true;
            await using (context.StartProgress(Describe))
            {
                var writers = bridges.Select((bridge, i) => WriteLinesAsync(bridge, $"ingest-{connections}-{i}-", window.EndTimestamp, cancellationToken)).ToList();
                try
                {
                    await MonotonicClock.DelayUntilAsync(window.StartTimestamp, cancellationToken).ConfigureAwait(false);
                    cpuStart = context.SampleCpu();
                    acceptedStart = Accepted();
                    await MonotonicClock.DelayUntilAsync(window.EndTimestamp, cancellationToken).ConfigureAwait(false);
                    cpuEnd = context.SampleCpu();
                    acceptedEnd = Accepted();
                }
                finally
                {
                    // The writers stop by themselves at the window's end (or on cancellation); awaited on every path.
                    await Task.WhenAll(writers).ConfigureAwait(false);
                }
                foreach (var bridge in bridges)
                {
                    allAnswered &= bridge.Failure is null && await bridge.WaitForAllAnsweredAsync(s_answerTimeout, cancellationToken).ConfigureAwait(false);
                }
            }

            var commit = new LatencyHistogram();
            foreach (var bridge in bridges)
            {
                commit.Add(bridge.CommitLatency);
            }

            var cpu = CpuSnapshot.Between(cpuStart, cpuEnd);
            var inWindow = acceptedEnd - acceptedStart;
            return new IngestMode(
                Name: name,
                Transport: "tcp-bridge",
                Connections: connections,
                Concurrency: _inFlight,
                WindowSeconds: cpu.WindowSeconds,
                AcceptedInWindow: inWindow,
                AcceptedPerSecond: inWindow / Math.Max(cpu.WindowSeconds, 1e-9),
                Sent: bridges.Sum(b => b.Sent),
                Accepted: bridges.Sum(b => b.Accepted),
                Rejected: bridges.Sum(b => b.Rejected),
                AllAnswered: allAnswered,
                CommitLatency: commit.Summarize(),
                Cpu: cpu,
                BrokerCpuMicrosecondsPerUpdate: cpu.BrokerCpuSeconds is { } seconds && inWindow > 0 ? seconds * 1e6 / inWindow : null,
                RejectionSamples: [.. bridges.SelectMany(b => b.RejectionSamples).Take(5)]);
        }
        finally
        {
            foreach (var bridge in bridges)
            {
                await bridge.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Keeps the connection's in-flight window full until <paramref name="endTimestamp"/>, in batches.</summary>
    private Task WriteLinesAsync(BridgeClientConnection bridge, string idPrefix, long endTimestamp, CancellationToken cancellationToken)
    {
        var lines = new UpdateLineWriter([_topic], idPrefix, IdsPerConnection, _payloadBytes);
        long sequence = 0;
        return bridge.KeepWindowFullAsync(BatchBytes, s_answerTimeout, endTimestamp, (destination, now) => lines.Write(destination, 0, sequence++, now), cancellationToken);
    }

    private async Task<IngestMode> RunHttpAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var name = $"http x{_httpConcurrency}";
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = _httpConcurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
        };
        using var http = new HttpClient(handler) { BaseAddress = context.Target.HttpBase, Timeout = TimeSpan.FromSeconds(30) };
        context.Authorize(http);
        var begin = MonotonicClock.Now;
        var window = new MeasurementWindow(
            begin + MonotonicClock.FromSeconds(_warmupSeconds),
            begin + MonotonicClock.FromSeconds(_warmupSeconds + _durationSeconds));
        long sent = 0, accepted = 0, rejected = 0, inWindow = 0;
        var rejections = new List<string>();

        async Task PublishLoopAsync(int worker)
        {
            var lines = new UpdateLineWriter([_topic], $"ingest-http-{worker}-", IdsPerConnection, _payloadBytes);
            var body = new byte[UpdateLineWriter.MaxLineBytes];
            long sequence = 0;
            while (MonotonicClock.Now < window.EndTimestamp)
            {
                var n = sequence++;
                var id = Encoding.ASCII.GetString(lines.IdFor(n));
                var sentAt = MonotonicClock.Now;
                var length = lines.WriteData(body, n, sentAt);
                using var content = new ByteArrayContent(body, 0, length);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                Interlocked.Increment(ref sent);
                HttpStatusCode status;
                string answer;
                try
                {
                    using var response = await http.PostAsync($"api/topics/{Uri.EscapeDataString(_topic)}/entities/{id}", content, cancellationToken).ConfigureAwait(false);
                    status = response.StatusCode;
                    answer = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // HttpClient's own timeout: the broker did not answer in 30 s.
                    status = HttpStatusCode.RequestTimeout;
                    answer = "no answer within the HTTP timeout";
                }

                var completedAt = MonotonicClock.Now;
                if (status == HttpStatusCode.OK && answer.Contains("\"ok\":true", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref accepted);
                    if (window.Contains(completedAt))
                    {
                        Interlocked.Increment(ref inWindow);
                    }

                    if (window.Contains(sentAt))
                    {
                        window.Recorder.Record(MonotonicClock.ToNanoseconds(completedAt - sentAt));
                    }
                }
                else
                {
                    Interlocked.Increment(ref rejected);
                    lock (rejections)
                    {
                        if (rejections.Count < 5)
                        {
                            rejections.Add($"{(int)status}: {answer[..Math.Min(answer.Length, 300)]}");
                        }
                    }
                }
            }
        }

        var last = 0L;
        var lastAt = begin;
        string Describe()
        {
            var now = MonotonicClock.Now;
            var current = Interlocked.Read(ref accepted);
            var rate = (current - last) / Math.Max(MonotonicClock.ToSeconds(now - lastAt), 1e-9);
            last = current;
            lastAt = now;
            return $"ingest {name}: {MonotonicClock.ToSeconds(now - begin):0.0}s acked {current:N0} ({rate:N0}/s)";
        }

        CpuSnapshot cpuStart;
        CpuSnapshot cpuEnd;
        await using (context.StartProgress(Describe))
        {
            var workers = Enumerable.Range(0, _httpConcurrency).Select(PublishLoopAsync).ToList();
            try
            {
                await MonotonicClock.DelayUntilAsync(window.StartTimestamp, cancellationToken).ConfigureAwait(false);
                cpuStart = context.SampleCpu();
                await MonotonicClock.DelayUntilAsync(window.EndTimestamp, cancellationToken).ConfigureAwait(false);
                cpuEnd = context.SampleCpu();
            }
            finally
            {
                await Task.WhenAll(workers).ConfigureAwait(false);
            }
        }

        var cpu = CpuSnapshot.Between(cpuStart, cpuEnd);
        return new IngestMode(
            Name: name,
            Transport: "http",
            Connections: _httpConcurrency,
            Concurrency: _httpConcurrency,
            WindowSeconds: cpu.WindowSeconds,
            AcceptedInWindow: inWindow,
            AcceptedPerSecond: inWindow / Math.Max(cpu.WindowSeconds, 1e-9),
            Sent: sent,
            Accepted: accepted,
            Rejected: rejected,
            AllAnswered: accepted + rejected == sent,
            CommitLatency: window.Recorder.Merge().Summarize(),
            Cpu: cpu,
            BrokerCpuMicrosecondsPerUpdate: cpu.BrokerCpuSeconds is { } seconds && inWindow > 0 ? seconds * 1e6 / inWindow : null,
            RejectionSamples: rejections);
    }
}
