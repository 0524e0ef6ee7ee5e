using System.Runtime.InteropServices;
using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Measurement;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>What a scenario runs against and reports to: the broker, the options, the console.</summary>
internal sealed class BenchContext(
    BenchOptions options,
    BrokerTarget target,
    BenchBroker? ownedBroker,
    TextWriter output,
    bool interactive,
    ResultStore results)
{
    public BenchOptions Options { get; } = options;

    public BrokerTarget Target { get; } = target;

    public TextWriter Output { get; } = output;

    public ResultStore Results { get; } = results;

    public bool Quick => Options.Quick;

    /// <summary>The broker this tool started for the scenario (null with --url): chaos stops and restarts it.</summary>
    public BenchBroker? OwnedBroker => ownedBroker;

    public ProgressLine StartProgress(Func<string> describe) => ProgressLine.Start(Output, interactive, describe);

    /// <summary>A pool of subscribers to the broker under test, with its token if it needs one.</summary>
    public SubscriberPool CreateSubscriberPool(IReadOnlyList<string> topics, int receiveBufferBytes) =>
        new(Target.HttpEndPoint, Target.HostHeader, Target.AccessToken, [.. topics.Select(Target.WebSocketPath)], receiveBufferBytes);

    public Task<BridgeClientConnection> ConnectBridgeAsync(int maxInFlight, CancellationToken cancellationToken) =>
        BridgeClientConnection.ConnectAsync(Target.BridgeEndPoint, maxInFlight, Target.AccessToken, cancellationToken);

    /// <summary>The broker's <c>GET /api/status</c> document, or null if it has none or does not answer in time.</summary>
    public async Task<System.Text.Json.JsonElement?> TryReadBrokerStatusAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = Target.HttpBase, Timeout = TimeSpan.FromSeconds(5) };
        Authorize(http);
        try
        {
            using var response = await http.GetAsync("api/status", cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            using var document = await System.Text.Json.JsonDocument.ParseAsync(body, cancellationToken: cancellationToken).ConfigureAwait(false);
            return document.RootElement.Clone();
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Sets the bearer token on an HTTP client for the broker under test, if it needs one.</summary>
    public void Authorize(HttpClient http)
    {
        if (Target.AccessToken is { } token)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
    }

    public CpuSnapshot SampleCpu() => CpuSnapshot.Take(Target.ProcessId);

    public double? BrokerRssMiB() =>
        Target.ProcessId is { } pid && ProcessMetrics.TryReadResidentKiB(pid) is { } kib ? kib / 1024.0 : null;

    public static RunEnvironment DescribeEnvironment(bool quick) => new(
        Machine: Environment.MachineName,
        ProcessorCount: Environment.ProcessorCount,
        OperatingSystem: RuntimeInformation.OSDescription,
        Runtime: RuntimeInformation.FrameworkDescription,
        OpenFilesLimit: ProcessMetrics.TryReadOpenFilesLimit(),
        InlineSocketCompletions: Environment.GetEnvironmentVariable(BenchProgram.InlineCompletionsVariable) == "1",
        RepositoryCommit: RepositoryLayout.Discover().TryReadHeadCommit(),
        Quick: quick);

    public BrokerInfo DescribeBroker() => new(
        StartedByTool: Target.Owned,
        Dll: Target.Dll,
        DllWrittenUtc: Target.Dll is { } dll && File.Exists(dll) ? File.GetLastWriteTimeUtc(dll) : null,
        HttpBase: Target.HttpBase.ToString(),
        Bridge: Target.BridgeEndPoint.ToString(),
        ProcessId: Target.ProcessId,
        Arguments: Target.Arguments,
        StartupOutput: ownedBroker?.FirstOutput ?? [],
        OutputLines: ownedBroker?.OutputLines ?? 0,
        LastOutput: ownedBroker?.LastOutput ?? []);

    /// <summary>The common part of a result; the scenario adds its own section with <c>with</c>.</summary>
    public ScenarioResult CreateResult(
        string scenario,
        DateTimeOffset startedUtc,
        long startedTimestamp,
        IReadOnlyList<string> problems,
        IReadOnlyList<SummaryRow> summary,
        bool brokerOutputIsAProblem = true)
    {
        var allProblems = problems.ToList();
        if (brokerOutputIsAProblem && ownedBroker is not null && ownedBroker.OutputLines > 0)
        {
            // It runs with MinimumLevel Warning: anything it printed is a warning or an error.
            allProblems.Add(
                $"the broker logged {ownedBroker.OutputLines} warning/error line(s) during the run; the first: {ownedBroker.FirstRunOutput}; the last: {ownedBroker.LastOutput.LastOrDefault()}");
        }

        return new ScenarioResult
        {
            Scenario = scenario,
            Arguments = Options.RawArguments,
            StartedUtc = startedUtc,
            ElapsedSeconds = MonotonicClock.ToSeconds(MonotonicClock.Now - startedTimestamp),
            Environment = DescribeEnvironment(Quick),
            Broker = DescribeBroker(),
            Passed = allProblems.Count == 0,
            Problems = allProblems,
            Summary = summary,
        };
    }
}
