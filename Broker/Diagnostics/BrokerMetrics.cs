using System.Diagnostics.Metrics;
using TopicBroker.Cluster;
using TopicBroker.Connections;
using TopicBroker.Ingest;
using TopicBroker.Topics;

namespace TopicBroker.Diagnostics;

/// <summary>
/// The broker's instruments (System.Diagnostics.Metrics, so dotnet-counters sees them too). Counts
/// are kept as plain per-topic fields by the code that owns them and read here through observable
/// instruments, so the fan-out path never pays for a metrics call per frame; the one histogram is
/// sampled. Labels are topics only: bounded, never connection ids.
/// </summary>
/// <remarks>
/// Names follow OpenTelemetry's style; the Prometheus exporter turns the dots into underscores,
/// appends the unit (<c>s</c> becomes <c>_seconds</c>; annotations in braces add nothing) and
/// <c>_total</c> to counters: <c>topicbroker.frames.sent</c> is scraped as
/// <c>topicbroker_frames_sent_total</c>. docs/operations.md "Health, status, metrics" lists every family.
/// </remarks>
internal sealed class BrokerMetrics : IDisposable
{
    public const string MeterName = "TopicBroker";

    /// <summary>One frame in this many per connection is timed for the publish-to-send histogram.</summary>
    public const int LatencySampleEvery = 64;

    private readonly Meter _meter;
    private readonly Histogram<double> _publishToSend;
    // The clock that stamped OutboundFrame.IngestTimestamp: elapsed time is measured on the same one.
    private readonly TimeProvider _timeProvider;

    public BrokerMetrics(
        IMeterFactory meterFactory,
        TopicRegistry topics,
        ConnectionManager connections,
        IngestPipeline pipeline,
        BridgeListener bridge,
        TimeProvider timeProvider,
        ClusterLink? cluster = null)
    {
        _timeProvider = timeProvider;
        _meter = meterFactory.Create(MeterName);
        _publishToSend = _meter.CreateHistogram<double>(
            "topicbroker.publish_to_send", unit: "s",
            description: "Time from a change entering the ingest pipeline to its frame being written to a subscriber's socket (sampled).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });

        _meter.CreateObservableGauge("topicbroker.connections", () => PerTopic(topics, t => (long)t.SubscriberCount),
            unit: "{connection}", description: "Open WebSocket subscriptions per topic.");
        _meter.CreateObservableCounter("topicbroker.updates", () => PerTopic(topics, t => t.Counters.UpdatesIn),
            unit: "{update}", description: "Changes committed and broadcast per topic.");
        _meter.CreateObservableCounter("topicbroker.frames.queued", () => PerTopic(topics, t => t.Counters.FramesQueued),
            unit: "{frame}", description: "Frames handed to subscriber queues per topic.");
        _meter.CreateObservableCounter("topicbroker.frames.sent", () => FramesSent(topics, connections),
            unit: "{frame}", description: "Frames written to subscriber sockets per topic.");
        _meter.CreateObservableCounter("topicbroker.frames.conflated", () => PerTopic(topics, t => t.Counters.FramesConflated),
            unit: "{frame}", description: "Update frames a slow subscriber skipped because a newer one for the same id replaced them.");
        _meter.CreateObservableCounter("topicbroker.frames.dropped", () => PerTopic(topics, t => t.Counters.FramesDropped),
            unit: "{frame}", description: "Frames discarded undelivered.");
        _meter.CreateObservableCounter("topicbroker.slow_consumer_closes", () => PerTopic(topics, t => t.Counters.SlowConsumerCloses),
            unit: "{connection}", description: "Connections closed with 1013 because their send queue overflowed.");
        _meter.CreateObservableGauge("topicbroker.seq", () => PerTopic(topics, t => t.Seq),
            description: "The newest seq of each topic.");

        _meter.CreateObservableCounter("topicbroker.ingest.changes", () => pipeline.CommittedChanges,
            unit: "{change}", description: "Changes committed to the store, from every source (bridge, HTTP, other programs).");
        _meter.CreateObservableCounter("topicbroker.ingest.commits", () => pipeline.Commits,
            unit: "{commit}", description: "SQLite transactions committed (group commits).");
        _meter.CreateObservableGauge("topicbroker.store.healthy", () => pipeline.IsStoreHealthy ? 1 : 0,
            description: "1 while the store commits, 0 after a failed commit until one succeeds.");
        if (cluster is not null)
        {
            // Cluster mode (docs/operations.md "Cluster mode"): the node is a label, so one dashboard shows every node.
            var node = new KeyValuePair<string, object?>("node", cluster.NodeId);
            _meter.CreateObservableGauge("topicbroker.cluster.link_up", () => new Measurement<int>(cluster.State == ClusterLinkState.Up ? 1 : 0, node),
                description: "1 while this node's Redis link is connected and delivering; 0 while delivery runs from the store alone.");
            _meter.CreateObservableGauge("topicbroker.cluster.lag", () => topics.All.Select(topic => new Measurement<long>(
                    Math.Max(0, cluster.CommittedSeq(topic) - topic.Seq), node, new KeyValuePair<string, object?>("topic", topic.Name))),
                unit: "{change}", description: "Committed changes this node has not applied yet, per topic.");
            _meter.CreateObservableCounter("topicbroker.cluster.backfills", () => new Measurement<long>(cluster.Backfills, node),
                unit: "{read}", description: "Reads of missing changes from the store's history (gaps, lost last messages, Redis down).");
            _meter.CreateObservableCounter("topicbroker.cluster.backfilled_changes", () => new Measurement<long>(cluster.BackfilledChanges, node),
                unit: "{change}", description: "Changes read from the store's history by backfills.");
            _meter.CreateObservableCounter("topicbroker.cluster.duplicates_dropped", () => new Measurement<long>(cluster.DuplicatesDropped, node),
                unit: "{change}", description: "Changes that arrived again (pub/sub duplicates, backfill races) and were dropped.");
        }

        _meter.CreateObservableGauge("topicbroker.bridge.connections", () => bridge.ConnectionCount,
            unit: "{connection}", description: "Open TCP bridge connections.");
    }

    public void RecordPublishToSend(TopicState topic, long ingestTimestamp)
    {
        var seconds = _timeProvider.GetElapsedTime(ingestTimestamp).TotalSeconds;
        _publishToSend.Record(seconds, new KeyValuePair<string, object?>("topic", topic.Name));
    }

    public void Dispose() => _meter.Dispose();

    /// <summary>Frames sent per topic: those of closed connections plus the live ones' own counts.</summary>
    public static Dictionary<TopicState, long> FramesSentByTopic(TopicRegistry topics, ConnectionManager connections)
    {
        var sent = topics.All.ToDictionary(t => t, t => t.Counters.FramesSentByClosedConnections);
        foreach (var connection in connections.Connections)
        {
            // A site topic created after All was read is left for the next reading.
            if (sent.TryGetValue(connection.Topic, out var count))
            {
                sent[connection.Topic] = count + connection.FramesSent;
            }
        }

        return sent;
    }

    private static IEnumerable<Measurement<long>> FramesSent(TopicRegistry topics, ConnectionManager connections) =>
        FramesSentByTopic(topics, connections).Select(pair => new Measurement<long>(pair.Value, new KeyValuePair<string, object?>("topic", pair.Key.Name)));

    private static IEnumerable<Measurement<long>> PerTopic(TopicRegistry topics, Func<TopicState, long> read) =>
        topics.All.Select(topic => new Measurement<long>(read(topic), new KeyValuePair<string, object?>("topic", topic.Name)));
}
