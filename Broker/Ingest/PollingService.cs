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
        // A site topic site/topic is rebroadcast when topic is; sites appear while running, so All is read each tick.
        var rebroadcast = new HashSet<string>(_options.RebroadcastTopics ?? [], StringComparer.Ordinal);
        var quietTicks = (long)(_options.PollingInterval.TotalSeconds * timeProvider.TimestampFrequency);

        return PeriodicLoop.RunAsync("Polling", _options.PollingInterval, timeProvider, () =>
        {
            pipeline.RequestPoll();
            var now = timeProvider.GetTimestamp();
            foreach (var topic in topics.All)
            {
                if (topic.SubscriberCount > 0 && now - topic.LastBroadcastTimestamp >= quietTicks
                    && rebroadcast.Contains(topic.Name[(topic.Name.IndexOf('/', StringComparison.Ordinal) + 1)..]))
                {
                    topic.RebroadcastSnapshot(now);
                }
            }
        }, logger, stoppingToken);
    }
}
