using System.Diagnostics.Metrics;
using TopicBroker.Diagnostics;
using TopicBroker.Upstream;

namespace TopicBroker.Sites;

/// <summary>
/// Replication lag on both sides (docs/operations.md "Metrics"), on the broker's meter: per site
/// and topic, the seq forwarded, the seq acknowledged, and the lag between the restaurant's seq
/// and the acknowledged one. A head office labels its site topics, a restaurant its own site.
/// </summary>
internal sealed class ReplicationMetrics
{
    public ReplicationMetrics(IMeterFactory meterFactory, ReplicationHub hub, UpstreamForwarder upstream)
    {
        // The factory hands back the broker's own meter (same name, same scope).
        var meter = meterFactory.Create(BrokerMetrics.MeterName);
        meter.CreateObservableGauge("topicbroker.upstream.forwarded_seq", () => Read(hub, upstream, (seq, forwarded, acknowledged) => forwarded),
            description: "Per site and topic, the newest seq forwarded on the replication link.");
        meter.CreateObservableGauge("topicbroker.upstream.acknowledged_seq", () => Read(hub, upstream, (seq, forwarded, acknowledged) => acknowledged),
            description: "Per site and topic, the newest seq the head office acknowledged.");
        meter.CreateObservableGauge("topicbroker.upstream.lag", () => Read(hub, upstream, (seq, forwarded, acknowledged) => Math.Max(0, seq - acknowledged)),
            unit: "{change}", description: "Per site and topic, changes the restaurant has that the head office has not acknowledged.");
    }

    private static IEnumerable<Measurement<long>> Read(ReplicationHub hub, UpstreamForwarder upstream, Func<long, long, long, long> value)
    {
        var measurements = new List<Measurement<long>>();
        if (upstream.Enabled)
        {
            var status = upstream.GetStatus();
            foreach (var (topic, t) in status.Topics)
            {
                measurements.Add(Measure(value(t.Seq, t.Forwarded, t.Acknowledged), status.Site, topic));
            }
        }

        foreach (var (site, s) in hub.GetStatus().Sites)
        {
            foreach (var (topic, t) in s.Topics)
            {
                measurements.Add(Measure(value(t.RestaurantSeq, t.Forwarded, t.Acknowledged), site, topic));
            }
        }

        return measurements;
    }

    private static Measurement<long> Measure(long value, string site, string topic) =>
        new(value, new KeyValuePair<string, object?>("site", site), new KeyValuePair<string, object?>("topic", topic));
}
