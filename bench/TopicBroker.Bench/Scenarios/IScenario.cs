using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>One benchmark scenario. It runs against a broker that is already up and returns what it measured.</summary>
internal interface IScenario
{
    string Name { get; }

    /// <summary>How to configure a broker the tool starts for this scenario.</summary>
    BrokerConfiguration BrokerConfiguration { get; }

    /// <summary>Topics the broker must have; checked on a running broker given with --url.</summary>
    IReadOnlyList<string> RequiredTopics { get; }

    Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken);
}
