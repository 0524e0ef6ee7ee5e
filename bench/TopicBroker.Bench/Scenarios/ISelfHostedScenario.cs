using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// A scenario that starts every server it needs itself (the cluster's PostgreSQL, Redis and
/// nodes) instead of the one broker <see cref="BenchProgram"/> starts for the others, and stops
/// them all before it returns, on every path.
/// </summary>
internal interface ISelfHostedScenario : IScenario
{
    Task<ScenarioResult> RunSelfHostedAsync(ScenarioHosting hosting, CancellationToken cancellationToken);
}

/// <summary>What a self-hosted scenario needs to start brokers and report like the others.</summary>
internal sealed record ScenarioHosting(
    BenchOptions Options,
    string BrokerDll,
    string? SigningKey,
    string? AccessToken,
    ResultStore Results,
    TextWriter Output,
    bool Interactive);
