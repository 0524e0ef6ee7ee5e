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
        DurabilityComparison.Definition,
        Chaos.ChaosScenario.Definition,
        ClusterScenario.Definition,
    ];

    /// <summary>The scenarios a parsed command line asks for: the one named, or every one marked for <c>all</c>.</summary>
    public static IReadOnlyList<IScenario> Create(BenchOptions options) =>
        options.Scenario == BenchCommandLine.AllCommand
            ? [.. All.Where(s => s.InAll).SelectMany(s => s.Create(options))]
            : Find(options.Scenario).Create(options);

    /// <summary>The definition of a scenario by name; null for <c>all</c>.</summary>
    public static ScenarioDefinition? TryFind(string name) => All.FirstOrDefault(s => s.Name == name);

    private static ScenarioDefinition Find(string name) => TryFind(name) ?? throw new InvalidOperationException($"No scenario '{name}' is registered.");
}
