using System.CommandLine;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// A scenario as the command line knows it: its subcommand name and help line, the runs it makes
/// from the parsed options (usually one scenario; a comparison makes several, each on a fresh
/// broker), the options only it reads (declared in its own file, read with
/// <see cref="BenchOptions.Get{T}"/>), and whether <c>all</c> runs it.
/// </summary>
internal sealed record ScenarioDefinition(string Name, string Description, Func<BenchOptions, IReadOnlyList<IScenario>> Create)
{
    /// <summary>For a comparison: a table over all its runs' results, written after the summary.</summary>
    public Action<IReadOnlyList<ScenarioResult>, TextWriter>? WriteComparison { get; init; }

    public IReadOnlyList<Option> Options { get; init; } = [];

    /// <summary>Whether <c>all</c> runs it; long or destructive scenarios (chaos) run only by name.</summary>
    public bool InAll { get; init; } = true;
}
