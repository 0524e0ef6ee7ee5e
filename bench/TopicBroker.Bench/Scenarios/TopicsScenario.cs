using System.Globalization;
using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// Many topics with few subscribers each, the publisher spreading a fixed total rate round-robin
/// over them: per-topic overhead rather than raw broadcast width.
/// </summary>
internal sealed class TopicsScenario : IScenario
{
    public static ScenarioDefinition Definition { get; } = new("topics", "many topics with few subscribers each, fixed total rate", options => [new TopicsScenario(options)]);

    private const int DefaultTopics = 1000;
    private const int DefaultSubscribersPerTopic = 10;

    /// <summary>2 updates/s per topic with 1000 topics; 20,000 delivered frames/s with 10 subscribers each.</summary>
    private const double DefaultRate = 2000;

    private readonly DeliverySettings _settings;

    public TopicsScenario(BenchOptions options)
    {
        var quick = options.Quick;
        var topicCount = options.TopicCount ?? (quick ? 20 : DefaultTopics);
        _settings = new DeliverySettings(
            Name: "topics",
            Topics: [.. Enumerable.Range(0, topicCount).Select(TopicName)],
            SubscribersPerTopic: options.SubscribersPerTopic ?? (quick ? 2 : DefaultSubscribersPerTopic),
            Rates: [options.Rate ?? (quick ? 200 : DefaultRate)],
            Sweep: false,
            P99LimitMs: options.P99LimitMs ?? 50,
            WarmupSeconds: options.WarmupSeconds ?? (quick ? 0.3 : 2),
            DurationSeconds: options.DurationSeconds ?? (quick ? 1 : 10),
            PayloadBytes: options.PayloadBytes ?? 200,
            IdPrefix: "e-",
            IdsPerTopic: 10,
            // Each subscriber sees only a few frames per second; 8 KiB keeps 10,000 sockets at 80 MiB.
            ReceiveBufferBytes: options.ReceiveBufferBytes ?? 8 * 1024,
            ConnectConcurrency: options.ConnectConcurrency ?? 200,
            MaxInFlight: 65_536,
            PerAddress: options.PerAddress ?? SourceAddresses.DefaultPerAddress,
            SendQueueCapacity: options.SendQueueCapacity);
    }

    public string Name => "topics";

    public BrokerConfiguration BrokerConfiguration => new(
        _settings.Topics[0],
        [.. _settings.Topics.Select((topic, i) => string.Create(CultureInfo.InvariantCulture, $"--Broker:Topics:{i}={topic}"))]);

    public IReadOnlyList<string> RequiredTopics => [_settings.Topics[0], _settings.Topics[^1]];

    public Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken) =>
        DeliveryRunner.RunAsync(context, _settings, cancellationToken);

    private static string TopicName(int index) => string.Create(CultureInfo.InvariantCulture, $"t{index:0000}");
}
