using System.CommandLine;
using TopicBroker.Bench.Options;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// A scenario as the command line knows it: its subcommand name and help line, how to make it
/// from the parsed options, the options only it reads (declared in its own file, read with
/// <see cref="BenchOptions.Get{T}"/>), and whether <c>all</c> runs it.
/// </summary>
internal sealed record ScenarioDefinition(string Name, string Description, Func<BenchOptions, IScenario> Create)
{
    public IReadOnlyList<Option> Options { get; init; } = [];

    /// <summary>Whether <c>all</c> runs it; long or destructive scenarios (chaos) run only by name.</summary>
    public bool InAll { get; init; } = true;
}
