using System.CommandLine;
using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// What a durable ack costs (docs/operations.md "Configuration", <c>Broker:Synchronous</c>):
/// <c>ingest</c> (acked updates/s) and a light <c>fanout</c> (publish-to-screen latency) on a
/// broker with <c>Synchronous=Full</c> and on one with <c>Normal</c>, each on a fresh broker, the
/// two modes alternated over <c>--rounds</c> so a noisy neighbour hits both; then one table of both.
/// </summary>
internal static class DurabilityComparison
{
    private static readonly string[] s_modes = ["Full", "Normal"];

    /// <summary>A screen-sized load: the fsync shows in the latency instead of drowning in CPU saturation.</summary>
    private const int DefaultSubscribers = 100;
    private const double DefaultRate = 200;

    private static readonly Option<int?> s_rounds = BenchCommandLine.PositiveInt("--rounds", "<n>", "durability: Full/Normal pairs, the order alternating (default 2)", max: 20);

    public static ScenarioDefinition Definition { get; } = new(
        "durability",
        "ingest and a light fanout with Broker:Synchronous=Full and =Normal, alternated, then a table of both",
        CreateRuns)
    {
        Options = [s_rounds],
        InAll = false,
        WriteComparison = WriteTable,
    };

    private static List<IScenario> CreateRuns(BenchOptions options)
    {
        if (options.Url is not null)
        {
            throw new BenchSetupException("durability starts its own brokers (one per mode); it cannot use --url.");
        }

        var rounds = options.Get(s_rounds) ?? (options.Quick ? 1 : 2);
        var runs = new List<IScenario>();
        for (var round = 0; round < rounds; round++)
        {
            // Full, Normal, Normal, Full, ...: neither mode always runs first.
            foreach (var mode in round % 2 == 0 ? s_modes : s_modes.Reverse())
            {
                string[] setting = [$"--Broker:Synchronous={mode}"];
                runs.Add(new BrokerVariantScenario(new IngestScenario(options), $"ingest-{mode.ToLowerInvariant()}", setting));
                runs.Add(new BrokerVariantScenario(new FanoutScenario(options, DefaultSubscribers, DefaultRate), $"fanout-{mode.ToLowerInvariant()}", setting));
            }
        }

        return runs;
    }

    private static void WriteTable(IReadOnlyList<ScenarioResult> results, TextWriter output)
    {
        var rows = new List<(string Metric, string Unit, Func<ScenarioResult, IEnumerable<double>> Values, string Kind)>();
        var ingestModes = results.Where(r => r.Ingest is not null).SelectMany(r => r.Ingest!.Modes.Select(m => m.Name)).Distinct().ToList();
        foreach (var name in ingestModes)
        {
            rows.Add(($"ingest {name} acked", "updates/s", r => r.Ingest!.Modes.Where(m => m.Name == name).Select(m => m.AcceptedPerSecond), "ingest"));
            rows.Add(($"ingest {name} commit p50", "ms", r => r.Ingest!.Modes.Where(m => m.Name == name).Select(m => m.CommitLatency.P50Ms), "ingest"));
            rows.Add(($"ingest {name} commit p99", "ms", r => r.Ingest!.Modes.Where(m => m.Name == name).Select(m => m.CommitLatency.P99Ms), "ingest"));
        }

        rows.Add(("fanout publish-to-screen p50", "ms", r => r.Delivery!.Steps.Select(s => s.Latency.P50Ms), "fanout"));
        rows.Add(("fanout publish-to-screen p99", "ms", r => r.Delivery!.Steps.Select(s => s.Latency.P99Ms), "fanout"));
        rows.Add(("fanout commit p50", "ms", r => r.Delivery!.Steps.Select(s => s.CommitLatency.P50Ms), "fanout"));

        output.WriteLine();
        output.WriteLine("== Broker:Synchronous Full vs Normal (range over the rounds) ==");
        var table = new TextTable("metric", "Full", "Normal", "unit");
        foreach (var (metric, unit, values, kind) in rows)
        {
            string Cell(string mode)
            {
                var figures = results.Where(r => r.Scenario == $"{kind}-{mode.ToLowerInvariant()}" && (kind == "ingest" ? r.Ingest is not null : r.Delivery is not null))
                    .SelectMany(values)
                    .ToList();
                if (figures.Count == 0)
                {
                    return "n/a";
                }

                string One(double value) => unit == "ms" ? Format.Ms(value) : Format.Count(value);
                return figures.Count == 1 ? One(figures[0]) : $"{One(figures.Min())} – {One(figures.Max())}";
            }

            table.Add(metric, Cell("Full"), Cell("Normal"), unit);
        }

        table.WriteTo(output);
    }
}

/// <summary>A scenario run under another name on a broker with extra settings (a comparison's variant).</summary>
internal sealed class BrokerVariantScenario(IScenario inner, string name, IReadOnlyList<string> settings) : IScenario
{
    public string Name => name;

    public BrokerConfiguration BrokerConfiguration => inner.BrokerConfiguration with
    {
        ExtraArguments = [.. inner.BrokerConfiguration.ExtraArguments, .. settings],
    };

    public IReadOnlyList<string> RequiredTopics => inner.RequiredTopics;

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var result = await inner.RunAsync(context, cancellationToken).ConfigureAwait(false);
        return result with { Scenario = name };
    }
}
