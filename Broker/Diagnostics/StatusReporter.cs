using System.Reflection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using TopicBroker.Cluster;
using TopicBroker.Connections;
using TopicBroker.Hosting;
using TopicBroker.Ingest;
using TopicBroker.Topics;

namespace TopicBroker.Diagnostics;

/// <summary>
/// Builds the status API's answers: live counters read now, rates measured against the sampler's
/// history, and the readiness checks run as <c>/ready</c> runs them.
/// </summary>
internal sealed class StatusReporter(
    StatusSampler sampler,
    TopicRegistry topics,
    ConnectionManager connections,
    IngestPipeline pipeline,
    BridgeListener bridge,
    TopicBroker.Sites.ReplicationHub replication,
    TopicBroker.Upstream.UpstreamForwarder upstream,
    HealthCheckService health,
    IOptions<BrokerOptions> brokerOptions,
    IOptions<DiagnosticsOptions> diagnosticsOptions,
    TimeProvider timeProvider,
    TopicSequencer sequencer,
    ClusterLink? cluster = null)
{
    public static readonly string Version =
        typeof(StatusReporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(StatusReporter).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    public async Task<BrokerStatus> GetStatusAsync(CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(check => check.Tags.Contains(ReadinessChecks.Tag), cancellationToken).ConfigureAwait(false);
        var now = sampler.Capture();
        var baseline = sampler.Baseline(now, diagnosticsOptions.Value.RateWindow) ?? now;
        var seconds = sampler.Elapsed(baseline, now).TotalSeconds;

        // Index i of every sample names the same topic (All only grows at the end); a topic newer
        // than the baseline has no baseline counts (At gives 0), and one newer than `now` waits for the next call.
        var all = topics.All;
        var topicStatuses = new Dictionary<string, TopicStatus>(now.Subscribers.Length, StringComparer.Ordinal);
        for (var i = 0; i < now.Subscribers.Length; i++)
        {
            var topic = all[i];
            var lastUpdate = topic.Counters.LastUpdateTimestamp;
            topicStatuses[topic.Name] = new TopicStatus(
                Subscribers: now.Subscribers[i],
                Seq: topic.Seq,
                UpdatesIn: now.UpdatesIn[i],
                UpdatesPerSecond: Rate(now.UpdatesIn[i] - At(baseline.UpdatesIn, i), seconds),
                FramesOut: now.FramesSent[i],
                FramesOutPerSecond: Rate(now.FramesSent[i] - At(baseline.FramesSent, i), seconds),
                SlowConsumerCloses: now.SlowConsumerCloses[i],
                FramesConflated: topic.Counters.FramesConflated,
                FramesDropped: topic.Counters.FramesDropped,
                LastUpdateAt: lastUpdate == 0 ? null : WallClockAt(lastUpdate));
        }

        var values = topicStatuses.Values;
        var totals = new TotalsStatus(
            Subscribers: values.Sum(t => t.Subscribers),
            WebSocketConnections: connections.ConnectionCount,
            RemoteAddresses: connections.RemoteAddressCount,
            UpdatesIn: values.Sum(t => t.UpdatesIn),
            UpdatesPerSecond: Rate(now.UpdatesIn.Sum() - baseline.UpdatesIn.Sum(), seconds),
            FramesOut: values.Sum(t => t.FramesOut),
            FramesOutPerSecond: Rate(now.FramesSent.Sum() - baseline.FramesSent.Sum(), seconds),
            SlowConsumerCloses: values.Sum(t => t.SlowConsumerCloses),
            FramesConflated: values.Sum(t => t.FramesConflated),
            FramesDropped: values.Sum(t => t.FramesDropped));

        return new BrokerStatus(
            Version,
            sampler.StartedAt,
            Math.Round(timeProvider.GetElapsedTime(sampler.StartedTimestamp).TotalSeconds, 1),
            now.Time,
            new HealthSummary(
                report.Status.ToString(),
                report.Entries.ToDictionary(entry => entry.Key, entry => entry.Value.Status.ToString(), StringComparer.Ordinal)),
            new IngestStatus(
                now.CommittedChanges,
                pipeline.Commits,
                Rate(now.CommittedChanges - baseline.CommittedChanges, seconds),
                pipeline.IsStoreHealthy),
            new BridgeStatus(
                brokerOptions.Value.TcpBridge.Enabled,
                bridge.IsListening,
                BridgeHealthCheck.ReadEndPoint(bridge),
                now.BridgeConnections),
            totals,
            topicStatuses,
            topics.SitesEnabled ? replication.GetStatus() : null,
            upstream.Enabled ? upstream.GetStatus() : null,
            cluster is null ? null : GetClusterStatus(cluster));
    }

    private ClusterStatus GetClusterStatus(ClusterLink link)
    {
        var perTopic = new Dictionary<string, ClusterTopicStatus>(StringComparer.Ordinal);
        foreach (var topic in topics.All)
        {
            var applied = topic.Seq;
            var committed = Math.Max(link.CommittedSeq(topic), applied);
            var (duplicates, held) = sequencer.CountersOf(topic);
            perTopic[topic.Name] = new ClusterTopicStatus(applied, committed, committed - applied, held, duplicates);
        }

        return new ClusterStatus(
            link.NodeId,
            link.State.ToString().ToLowerInvariant(),
            link.State != ClusterLinkState.Up,
            link.MessagesReceived,
            link.Backfills,
            link.BackfilledChanges,
            link.DuplicatesDropped,
            link.Resynchronizations,
            link.PublishFailures,
            perTopic);
    }

    /// <summary>The samples newer than <paramref name="afterUnixMs"/> (all when null), each with its rates since the one before.</summary>
    public StatusHistory GetHistory(long? afterUnixMs)
    {
        var samples = sampler.Samples();
        var points = new List<HistoryPoint>(samples.Length);
        for (var s = 1; s < samples.Length; s++)
        {
            var previous = samples[s - 1];
            var sample = samples[s];
            var time = sample.Time.ToUnixTimeMilliseconds();
            if (time <= afterUnixMs)
            {
                continue;
            }

            var seconds = sampler.Elapsed(previous, sample).TotalSeconds;
            var updatesPerSecond = new double[sample.UpdatesIn.Length];
            for (var i = 0; i < updatesPerSecond.Length; i++)
            {
                updatesPerSecond[i] = Rate(sample.UpdatesIn[i] - At(previous.UpdatesIn, i), seconds);
            }

            points.Add(new HistoryPoint(
                time,
                sample.Subscribers,
                updatesPerSecond,
                sample.SlowConsumerCloses,
                Rate(sample.CommittedChanges - previous.CommittedChanges, seconds),
                sample.BridgeConnections));
        }

        return new StatusHistory(
            sampler.Interval.TotalSeconds,
            diagnosticsOptions.Value.History.TotalSeconds,
            [.. topics.All.Select(t => t.Name)],
            points);
    }

    private static long At(long[] values, int index) => index < values.Length ? values[index] : 0;

    private static double Rate(long delta, double seconds) => seconds <= 0 ? 0 : Math.Round(delta / seconds, 2);

    /// <summary>The wall-clock time (to the millisecond) of a TimeProvider timestamp in the past.</summary>
    private DateTimeOffset WallClockAt(long timestamp) =>
        DateTimeOffset.FromUnixTimeMilliseconds((timeProvider.GetUtcNow() - timeProvider.GetElapsedTime(timestamp)).ToUnixTimeMilliseconds());
}
