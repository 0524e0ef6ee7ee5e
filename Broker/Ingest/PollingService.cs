using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Topics;

namespace TopicBroker.Ingest;

/// <summary>
/// The fallback that keeps every screen converging (docs/operations.md "SQLite schema and external writers"): each
/// <see cref="BrokerOptions.PollingInterval"/> it asks the pipeline to look for other programs'
/// writes, and rebroadcasts the committed state of quiet rebroadcast topics that have subscribers.
/// </summary>
internal sealed class PollingService(
    IngestPipeline pipeline,
    TopicRegistry topics,
    IOptions<BrokerOptions> options,
    TimeProvider timeProvider,
    ILogger<PollingService> logger) : BackgroundService
{
    private readonly BrokerOptions _options = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var rebroadcast = (_options.RebroadcastTopics ?? [])
            .Select(name => topics.TryGet(name, out var topic) ? topic : null)
            .OfType<TopicState>()
            .ToArray();
        var quietTicks = (long)(_options.PollingInterval.TotalSeconds * timeProvider.TimestampFrequency);

        return PeriodicLoop.RunAsync("Polling", _options.PollingInterval, timeProvider, () =>
        {
            pipeline.RequestPoll();
            var now = timeProvider.GetTimestamp();
            foreach (var topic in rebroadcast)
            {
                if (topic.SubscriberCount > 0 && now - topic.LastBroadcastTimestamp >= quietTicks)
                {
                    topic.RebroadcastSnapshot(now);
                }
            }
        }, logger, stoppingToken);
    }
}
