using TopicBroker.Bench.Clients;
using TopicBroker.Bench.Hosting;
using TopicBroker.Bench.Options;
using TopicBroker.Bench.Reporting;

namespace TopicBroker.Bench.Scenarios;

/// <summary>
/// One topic, many subscribers, one publisher on the TCP bridge: the broadcast path at
/// <c>--rate</c> updates/s (each delivered to every subscriber), or a <c>--sweep</c> over rising rates.
/// </summary>
internal sealed class FanoutScenario : IScenario
{
    public static ScenarioDefinition Definition { get; } = new("fanout", "1 topic, many subscribers, publisher on the TCP bridge at a fixed rate (or --sweep)", options => [new FanoutScenario(options)]);

    /// <summary>1000 subscribers at 500 updates/s is 500,000 delivered frames/s.</summary>
    private const int DefaultSubscribers = 1000;
    private const double DefaultRate = 500;
    private const double DefaultWarmupSeconds = 2;
    private const double DefaultDurationSeconds = 10;
    private const double DefaultSweepStepSeconds = 5;
    private const double DefaultP99LimitMs = 50;

    /// <summary>A ladder from a light load to beyond what two cores deliver to 1000 subscribers (about 3.5M frames/s).</summary>
    private static readonly double[] s_defaultSweepRates = [50, 100, 200, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000];

    private readonly DeliverySettings _settings;

    public FanoutScenario(BenchOptions options)
        : this(options, DefaultSubscribers, DefaultRate)
    {
    }

    /// <summary>With other defaults for what the command line leaves open (a comparison's lighter load).</summary>
    public FanoutScenario(BenchOptions options, int defaultSubscribers, double defaultRate)
    {
        var quick = options.Quick;
        var sweep = options.Sweep;
        _settings = new DeliverySettings(
            Name: "fanout",
            Topics: [options.TopicNames?[0] ?? "robots"],
            SubscribersPerTopic: options.Subscribers ?? (quick ? 20 : defaultSubscribers),
            Rates: sweep ? options.SweepRates ?? (quick ? [50, 100, 200] : s_defaultSweepRates) : [options.Rate ?? (quick ? 100 : defaultRate)],
            Sweep: sweep,
            P99LimitMs: options.P99LimitMs ?? DefaultP99LimitMs,
            WarmupSeconds: options.WarmupSeconds ?? (quick ? 0.3 : sweep ? 1 : DefaultWarmupSeconds),
            DurationSeconds: options.DurationSeconds ?? (quick ? (sweep ? 0.5 : 1) : sweep ? DefaultSweepStepSeconds : DefaultDurationSeconds),
            PayloadBytes: options.PayloadBytes ?? 200,
            IdPrefix: "robot-",
            IdsPerTopic: 100,
            // 64 KiB per socket: a burst of ~230 frames per read, so few reads per frame.
            ReceiveBufferBytes: options.ReceiveBufferBytes ?? 64 * 1024,
            ConnectConcurrency: options.ConnectConcurrency ?? 200,
            MaxInFlight: 65_536,
            PerAddress: options.PerAddress ?? SourceAddresses.DefaultPerAddress,
            SendQueueCapacity: options.SendQueueCapacity);
    }

    public string Name => "fanout";

    public BrokerConfiguration BrokerConfiguration => new(_settings.Topics[0], []);

    public IReadOnlyList<string> RequiredTopics => _settings.Topics;

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var result = await DeliveryRunner.RunAsync(context, _settings, cancellationToken).ConfigureAwait(false);
        if (!_settings.Sweep || result.Delivery is not { Steps.Count: > 0 } delivery)
        {
            return result;
        }

        var svg = SvgLatencyChart.Render(
            $"TopicBroker fanout: latency vs offered rate",
            $"{delivery.Subscribers} subscribers on '{_settings.Topics[0]}', {delivery.PayloadBytes}-byte data, {_settings.DurationSeconds} s per step, " +
            $"{System.Environment.ProcessorCount} cores, broker and generator on one machine",
            delivery.Steps,
            _settings.P99LimitMs);
        var path = await context.Results.WriteTextAsync("fanout-sweep", result.StartedUtc, "svg", svg, cancellationToken).ConfigureAwait(false);
        return result with { Files = [.. result.Files, path] };
    }
}
