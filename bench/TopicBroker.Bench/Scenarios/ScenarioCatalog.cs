using TopicBroker.Bench.Options;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// Every scenario the tool runs. Adding one is a file with its <see cref="IScenario"/> and a
/// static <see cref="ScenarioDefinition"/>, plus one line here; <c>all</c> runs them in this order.
/// </summary>
internal static class ScenarioCatalog
{
    public static IReadOnlyList<ScenarioDefinition> All { get; } =
    [
        FanoutScenario.Definition,
        TopicsScenario.Definition,
        ConnectionsScenario.Definition,
        IngestScenario.Definition,
    ];

    /// <summary>The scenarios a parsed command line asks for: the one named, or every one marked for <c>all</c>.</summary>
    public static IReadOnlyList<IScenario> Create(BenchOptions options) =>
        options.Scenario == BenchCommandLine.AllCommand
            ? [.. All.Where(s => s.InAll).Select(s => s.Create(options))]
            : [All.Single(s => s.Name == options.Scenario).Create(options)];
}
