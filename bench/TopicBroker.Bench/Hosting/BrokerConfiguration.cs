namespace TopicBroker.Bench.Hosting;

/// <summary>What a scenario needs from a broker it starts.</summary>
internal sealed record BrokerConfiguration(
    string ReadinessTopic,
    IReadOnlyList<string> ExtraArguments);
