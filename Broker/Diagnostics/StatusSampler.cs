using Microsoft.Extensions.Options;
using TopicBroker.Connections;
using TopicBroker.Hosting;
using TopicBroker.Ingest;
using TopicBroker.Topics;

namespace TopicBroker.Diagnostics;

/// <summary>
/// Records every topic's counters each <see cref="DiagnosticsOptions.SampleInterval"/> into a ring
/// that covers <see cref="DiagnosticsOptions.History"/>: the rates of the status API and the
/// operations page's charts are differences between samples. It only reads counters the hot paths
/// keep anyway, so rates cost the fan-out nothing. A failed sample is logged and the next one is
/// taken as usual (<see cref="PeriodicLoop"/>).
/// </summary>
internal sealed class StatusSampler : BackgroundService
{
    private readonly TopicRegistry _topics;
    private readonly ConnectionManager _connections;
    private readonly IngestPipeline _pipeline;
    private readonly BridgeListener _bridge;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<StatusSampler> _logger;
    private readonly TimeSpan _interval;
    private readonly Lock _gate = new();
    private readonly StatusSample[] _ring;
    private int _start;
    private int _count;

    public StatusSampler(
        TopicRegistry topics,
        ConnectionManager connections,
        IngestPipeline pipeline,
        BridgeListener bridge,
        IOptions<DiagnosticsOptions> options,
        TimeProvider timeProvider,
        ILogger<StatusSampler> logger)
    {
        _topics = topics;
        _connections = connections;
        _pipeline = pipeline;
        _bridge = bridge;
        _timeProvider = timeProvider;
        _logger = logger;
        _interval = options.Value.SampleInterval;
        _ring = new StatusSample[options.Value.SamplesKept];
        StartedAt = timeProvider.GetUtcNow();
        StartedTimestamp = timeProvider.GetTimestamp();
    }

    public TimeSpan Interval => _interval;

    /// <summary>When the host created the sampler, as it started: the origin of the uptime.</summary>
    public DateTimeOffset StartedAt { get; }

    public long StartedTimestamp { get; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // The first sample is the start of every rate, so rates exist before the first tick.
        Record(Capture());
        return base.StartAsync(cancellationToken);
    }

    /// <summary>Reads the live counters now.</summary>
    public StatusSample Capture()
    {
        var topics = _topics.All;
        var subscribers = new int[topics.Count];
        var updates = new long[topics.Count];
        var framesSent = new long[topics.Count];
        var slowConsumerCloses = new long[topics.Count];
        var sentByTopic = BrokerMetrics.FramesSentByTopic(_topics, _connections);
        for (var i = 0; i < topics.Count; i++)
        {
            var topic = topics[i];
            subscribers[i] = topic.SubscriberCount;
            updates[i] = topic.Counters.UpdatesIn;
            framesSent[i] = sentByTopic[topic];
            slowConsumerCloses[i] = topic.Counters.SlowConsumerCloses;
        }

        return new StatusSample
        {
            Timestamp = _timeProvider.GetTimestamp(),
            Time = _timeProvider.GetUtcNow(),
            Subscribers = subscribers,
            UpdatesIn = updates,
            FramesSent = framesSent,
            SlowConsumerCloses = slowConsumerCloses,
            CommittedChanges = _pipeline.CommittedChanges,
            BridgeConnections = _bridge.ConnectionCount,
        };
    }

    /// <summary>
    /// The sample rates up to <paramref name="now"/> are measured from: the oldest one kept that is
    /// at most <paramref name="window"/> old, or the newest if all are older; null before the first.
    /// </summary>
    public StatusSample? Baseline(StatusSample now, TimeSpan window)
    {
        lock (_gate)
        {
            StatusSample? baseline = null;
            for (var i = _count - 1; i >= 0; i--)
            {
                var sample = _ring[(_start + i) % _ring.Length];
                if (baseline is not null && Elapsed(sample, now) > window)
                {
                    break;
                }

                baseline = sample;
            }

            return baseline;
        }
    }

    /// <summary>The kept samples, oldest first.</summary>
    public StatusSample[] Samples()
    {
        lock (_gate)
        {
            var samples = new StatusSample[_count];
            for (var i = 0; i < _count; i++)
            {
                samples[i] = _ring[(_start + i) % _ring.Length];
            }

            return samples;
        }
    }

    /// <summary>The time between two samples, on the monotonic clock.</summary>
    public TimeSpan Elapsed(StatusSample from, StatusSample to) => _timeProvider.GetElapsedTime(from.Timestamp, to.Timestamp);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        PeriodicLoop.RunAsync("Status sampling", _interval, _timeProvider, () => Record(Capture()), _logger, stoppingToken);

    private void Record(StatusSample sample)
    {
        lock (_gate)
        {
            if (_count == _ring.Length)
            {
                _ring[_start] = sample;
                _start = (_start + 1) % _ring.Length;
            }
            else
            {
                _ring[(_start + _count) % _ring.Length] = sample;
                _count++;
            }
        }
    }
}
