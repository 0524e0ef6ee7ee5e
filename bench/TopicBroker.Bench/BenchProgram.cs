using System.Net;
using System.Net.Sockets;
using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Hosting;
using TopicBroker.Testing;
using TopicBroker.Bench.Measurement;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;
using TopicBroker.Bench.Scenarios;

namespace TopicBroker.Bench;

/// <summary>
/// The load generator's entry point, callable in-process by tests with <c>--quick</c>:
/// parses the command line, starts (and always stops) a broker per scenario unless <c>--url</c>
/// names a running one, runs the scenarios, prints their tables and writes their JSON.
/// </summary>
internal static class BenchProgram
{
    public const int ExitPassed = 0;
    public const int ExitChecksFailed = 1;
    public const int ExitUsage = 2;
    public const int ExitSetupFailed = 3;
    public const int ExitCancelled = 130;

    /// <summary>Makes socket continuations run inline on the epoll threads (see Program.cs).</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    internal static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        var interactive = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var writer = ReferenceEquals(output, Console.Out) ? output : TextWriter.Synchronized(output);
        if (!BenchOptions.TryParse(args, out var options, out var error))
        {
            writer.WriteLine($"error: {error}");
            writer.WriteLine("Run with --help for the scenarios and options.");
            return ExitUsage;
        }

        if (options.ShowHelp)
        {
            BenchOptions.WriteHelp(args, writer);
            return ExitPassed;
        }

        // Tokens (protocol.md "Security"): --auth gives a started broker a fresh key; a key or a
        // token given on the command line is used as is.
        var signingKey = options.SigningKey ?? (options.Auth ? TestTokens.NewSigningKey() : null);
        var accessToken = options.Token ?? (signingKey is null ? null : BenchToken(signingKey));

        var layout = RepositoryLayout.Discover();
        var store = new ResultStore(options.ResultsDirectory ?? layout.DefaultResultsDirectory);
        if (options.Scenario == BenchCommandLine.PeersCommand)
        {
            return await RunPeersAsync(options, layout, store, writer, interactive, cancellationToken).ConfigureAwait(false);
        }

        var results = new List<ScenarioResult>();
        var startedUtc = DateTimeOffset.UtcNow;
        var startedAt = MonotonicClock.Now;
        try
        {
            foreach (var scenario in ScenarioCatalog.Create(options))
            {
                var result = await RunScenarioAsync(scenario, options, signingKey, accessToken, layout, store, writer, interactive, cancellationToken).ConfigureAwait(false);
                results.Add(result);
                ResultTables.Write(result, writer);
            }
        }
        catch (BenchSetupException ex)
        {
            writer.WriteLine($"error: {ex.Message}");
            return ExitSetupFailed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            writer.WriteLine("cancelled; the broker (if started here) was stopped.");
            return ExitCancelled;
        }

        if (results.Count > 1)
        {
            // `all` and comparisons: one summary over every run, and one file holding them all.
            ResultTables.WriteSummary(results, writer);
            ScenarioCatalog.TryFind(options.Scenario)?.WriteComparison?.Invoke(results, writer);
            var all = new AllResult(startedUtc, MonotonicClock.ToSeconds(MonotonicClock.Now - startedAt), results.All(r => r.Passed), results);
            var path = await store.WriteAsync(all, options.Scenario, CancellationToken.None).ConfigureAwait(false);
            writer.WriteLine($"wrote {path}");
        }

        return results.All(r => r.Passed) ? ExitPassed : ExitChecksFailed;
    }

    private static async Task<int> RunPeersAsync(
        BenchOptions options, RepositoryLayout layout, ResultStore store, TextWriter writer, bool interactive, CancellationToken cancellationToken)
    {
        try
        {
            return await PeersComparison.RunAsync(options, layout, store, writer, interactive, cancellationToken).ConfigureAwait(false);
        }
        catch (BenchSetupException ex)
        {
            writer.WriteLine($"error: {ex.Message}");
            return ExitSetupFailed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            writer.WriteLine("cancelled; the servers started here were stopped.");
            return ExitCancelled;
        }
    }

    private static async Task<ScenarioResult> RunScenarioAsync(
        IScenario scenario,
        BenchOptions options,
        string? signingKey,
        string? accessToken,
        RepositoryLayout layout,
        ResultStore store,
        TextWriter output,
        bool interactive,
        CancellationToken cancellationToken)
    {
        output.WriteLine();
        output.WriteLine($"-- {scenario.Name} --");
        if (scenario is ISelfHostedScenario selfHosted)
        {
            if (options.Url is not null)
            {
                throw new BenchSetupException($"The {scenario.Name} scenario starts its own servers; --url is not supported for it.");
            }

            var hosting = new ScenarioHosting(options, options.BrokerDll ?? layout.DefaultBrokerDll, signingKey, accessToken, store, output, interactive);
            var hosted = await selfHosted.RunSelfHostedAsync(hosting, cancellationToken).ConfigureAwait(false);
            var hostedPath = await store.WriteAsync(hosted, CancellationToken.None).ConfigureAwait(false);
            return hosted with { Files = [.. hosted.Files, hostedPath] };
        }

        BenchBroker? broker = null;
        try
        {
            BrokerTarget target;
            if (options.Url is null)
            {
                var configuration = scenario.BrokerConfiguration with
                {
                    ExtraArguments =
                    [
                        .. scenario.BrokerConfiguration.ExtraArguments,
                        .. options.SendQueueCapacity is { } capacity ? [$"--Broker:SendQueueCapacity={capacity}"] : Array.Empty<string>(),
                        .. signingKey is not null ? [$"--Broker:Auth:SigningKey={signingKey}"] : Array.Empty<string>(),
                        .. options.BrokerArguments,
                    ],
                };
                broker = await BenchBroker.StartAsync(options.BrokerDll ?? layout.DefaultBrokerDll, configuration, accessToken, output, cancellationToken)
                    .ConfigureAwait(false);
                target = broker.Target;
            }
            else
            {
                target = ExternalTarget(options) with { AccessToken = accessToken };
                await CheckTopicsAsync(target, scenario.RequiredTopics, cancellationToken).ConfigureAwait(false);
            }

            var context = new BenchContext(options, target, broker, output, interactive, store);
            var startedUtc = DateTimeOffset.UtcNow;
            var startedAt = MonotonicClock.Now;
            ScenarioResult result;
            try
            {
                result = await scenario.RunAsync(context, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or TimeoutException or HttpRequestException or InvalidDataException)
            {
                // The broker misbehaved or went away mid-run: report it as this scenario's failure.
                result = context.CreateResult(scenario.Name, startedUtc, startedAt, [$"the scenario aborted: {ex.GetType().Name}: {ex.Message}"], []);
            }

            result = result with { BrokerStatus = await context.TryReadBrokerStatusAsync(cancellationToken).ConfigureAwait(false) };
            var path = await store.WriteAsync(result, CancellationToken.None).ConfigureAwait(false);
            return result with { Files = [.. result.Files, path] };
        }
        finally
        {
            if (broker is not null)
            {
                await broker.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Every right on every topic, for long enough to outlive any run.</summary>
    private static string BenchToken(string signingKey) =>
        TestTokens.Create(subscribe: ["*"], publish: ["*"], expiresIn: TimeSpan.FromHours(6), key: signingKey, subject: "topicbroker-bench");

    private static BrokerTarget ExternalTarget(BenchOptions options)
    {
        var url = options.Url!;
        var httpAddress = ResolveLoopback(url.Host, "--url");
        var bridgeHost = url.Host;
        var bridgePort = 5001;
        if (options.Bridge is { } bridge)
        {
            var colon = bridge.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(bridge.AsSpan(colon + 1), out bridgePort) || bridgePort is <= 0 or > 65535)
            {
                throw new BenchSetupException($"--bridge expects host:port, got '{bridge}'.");
            }

            bridgeHost = bridge[..colon];
        }

        var bridgeAddress = ResolveLoopback(bridgeHost, "--bridge");
        return new BrokerTarget(
            url,
            new IPEndPoint(httpAddress, url.Port),
            new IPEndPoint(bridgeAddress, bridgePort),
            options.BrokerPid,
            Owned: false,
            Arguments: []);
    }

    /// <summary>The tool only ever talks to this machine; a remote broker is refused.</summary>
    private static IPAddress ResolveLoopback(string host, string option)
    {
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        if (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address) && address.AddressFamily == AddressFamily.InterNetwork)
        {
            return address;
        }

        throw new BenchSetupException($"{option} must name an IPv4 loopback address (127.x.x.x or localhost), got '{host}'.");
    }

    private static async Task CheckTopicsAsync(BrokerTarget target, IReadOnlyList<string> topics, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = target.HttpBase, Timeout = TimeSpan.FromSeconds(5) };
        if (target.AccessToken is { } token)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        foreach (var topic in topics)
        {
            HttpResponseMessage response;
            try
            {
                response = await http.GetAsync($"api/topics/{Uri.EscapeDataString(topic)}", cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                throw new BenchSetupException($"The broker at {target.HttpBase} does not answer: {ex.Message}", ex);
            }

            using (response)
            {
                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    throw new BenchSetupException($"The broker at {target.HttpBase} has no topic '{topic}'; configure it (Broker:Topics) or let the tool start the broker.");
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw new BenchSetupException($"GET api/topics/{topic} answered {(int)response.StatusCode}.");
                }
            }
        }
    }
}
