using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Measurement;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// The <c>peers</c> mode: the same fanout measurement (one topic, N subscribers, a paced publisher
/// on the TCP bridge, every frame checked) and the same idle-connections measurement against
/// TopicBroker and the reference servers of bench/peers/, each started here on a fresh process,
/// then one side-by-side table. Rounds rotate the order of the servers, so that a slow minute of
/// the shared machine does not always land on the same one; the table shows ranges over rounds.
/// </summary>
internal static class PeersComparison
{
    /// <summary>Restaurant loads (30, 50 updates/s) and the issue's throughput points (500, 1,500).</summary>
    private static readonly double[] s_defaultRates = [30, 50, 500, 1500];

    public static async Task<int> RunAsync(
        BenchOptions options, RepositoryLayout layout, ResultStore store, TextWriter output, bool interactive, CancellationToken cancellationToken)
    {
        var startedUtc = DateTimeOffset.UtcNow;
        var startedAt = MonotonicClock.Now;
        var quick = options.Quick;
        var peers = options.Peers ?? PeerNames.All;
        var rates = options.Rates ?? (quick ? [100] : s_defaultRates);
        var rounds = options.Rounds ?? 1;
        var settings = FanoutSettings(options, rates);
        var connections = new ConnectionsScenario(options);
        var peersDirectory = Path.Combine(layout.Root ?? Directory.GetCurrentDirectory(), "bench", "peers");

        output.WriteLine(
            $"peers: {string.Join(", ", peers)}; fanout {settings.SubscribersPerTopic} subscribers at {string.Join(", ", rates)} updates/s, " +
            $"{settings.DurationSeconds} s per rate; {rounds} round(s), each on fresh processes");
        var runs = new List<PeerRun>();
        for (var round = 0; round < rounds; round++)
        {
            // Rotate the order every round: A B C, B C A, C A B.
            var order = peers.Skip(round % peers.Count).Concat(peers.Take(round % peers.Count)).ToList();
            foreach (var peer in order)
            {
                runs.Add(new PeerRun(peer, round + 1, await RunOnFreshServerAsync(
                    peer, "fanout", new BrokerConfiguration(settings.Topics[0], []), options, layout, peersDirectory, store, output, interactive,
                    context => DeliveryRunner.RunAsync(context, settings, cancellationToken), cancellationToken).ConfigureAwait(false)));
                runs.Add(new PeerRun(peer, round + 1, await RunOnFreshServerAsync(
                    peer, "connections", connections.BrokerConfiguration, options, layout, peersDirectory, store, output, interactive,
                    context => connections.RunAsync(context, cancellationToken), cancellationToken).ConfigureAwait(false)));
            }
        }

        var table = PeersTable.Markdown(peers, rates, settings.SubscribersPerTopic, runs);
        output.WriteLine();
        output.WriteLine($"== peers ({(runs.All(r => r.Result.Passed) ? "passed" : "FAILED")}) ==");
        output.Write(table);
        foreach (var run in runs.Where(r => !r.Result.Passed))
        {
            foreach (var problem in run.Result.Problems)
            {
                output.WriteLine($"problem: {run.Peer} {run.Result.Scenario} round {run.Round}: {problem}");
            }
        }

        var result = new PeersResult(
            startedUtc,
            MonotonicClock.ToSeconds(MonotonicClock.Now - startedAt),
            runs.All(r => r.Result.Passed),
            options.RawArguments,
            BenchContext.DescribeEnvironment(quick),
            peers,
            rates,
            rounds,
            table,
            runs);
        var path = await PeersTable.WriteAsync(store, result, CancellationToken.None).ConfigureAwait(false);
        output.WriteLine($"wrote {path} and its .md table");
        return result.Passed ? BenchProgram.ExitPassed : BenchProgram.ExitChecksFailed;
    }

    /// <summary>The fanout scenario's settings (FanoutScenario), stepping through every rate on one server.</summary>
    private static DeliverySettings FanoutSettings(BenchOptions options, IReadOnlyList<double> rates)
    {
        var quick = options.Quick;
        return new DeliverySettings(
            Name: "fanout",
            Topics: [options.TopicNames?[0] ?? "robots"],
            SubscribersPerTopic: options.Subscribers ?? (quick ? 20 : 1000),
            Rates: rates,
            Sweep: false,
            P99LimitMs: options.P99LimitMs ?? 50,
            WarmupSeconds: options.WarmupSeconds ?? (quick ? 0.3 : 2),
            DurationSeconds: options.DurationSeconds ?? (quick ? 1 : 10),
            PayloadBytes: options.PayloadBytes ?? 200,
            IdPrefix: "robot-",
            IdsPerTopic: 100,
            ReceiveBufferBytes: options.ReceiveBufferBytes ?? 64 * 1024,
            ConnectConcurrency: options.ConnectConcurrency ?? 200,
            MaxInFlight: 65_536,
            PerAddress: options.PerAddress ?? SourceAddresses.DefaultPerAddress,
            SendQueueCapacity: options.SendQueueCapacity);
    }

    private static async Task<ScenarioResult> RunOnFreshServerAsync(
        string peer,
        string scenario,
        BrokerConfiguration configuration,
        BenchOptions options,
        RepositoryLayout layout,
        string peersDirectory,
        ResultStore store,
        TextWriter output,
        bool interactive,
        Func<BenchContext, Task<ScenarioResult>> run,
        CancellationToken cancellationToken)
    {
        output.WriteLine();
        output.WriteLine($"-- {scenario} on {PeerNames.Display(peer)} --");
        BenchBroker? broker = null;
        PeerProcess? server = null;
        try
        {
            BrokerTarget target;
            if (peer == PeerNames.TopicBroker)
            {
                broker = await BenchBroker.StartAsync(
                    options.BrokerDll ?? layout.DefaultBrokerDll,
                    configuration with { ExtraArguments = [.. configuration.ExtraArguments, .. options.BrokerArguments] },
                    accessToken: null,
                    output,
                    cancellationToken).ConfigureAwait(false);
                target = broker.Target;
            }
            else
            {
                server = await PeerProcess.StartAsync(peer, peersDirectory, output, cancellationToken).ConfigureAwait(false);
                target = server.Target;
            }

            var context = new BenchContext(options, target, broker, output, interactive, store);
            var startedUtc = DateTimeOffset.UtcNow;
            var startedAt = MonotonicClock.Now;
            ScenarioResult result;
            try
            {
                result = await run(context).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or TimeoutException or HttpRequestException or InvalidDataException)
            {
                result = context.CreateResult(scenario, startedUtc, startedAt, [$"the scenario aborted: {ex.GetType().Name}: {ex.Message}"], []);
            }

            ResultTables.Write(result, output);
            return result;
        }
        finally
        {
            if (broker is not null)
            {
                await broker.DisposeAsync().ConfigureAwait(false);
            }

            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
