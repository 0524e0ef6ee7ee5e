using System.Net;
using TopicBroker.Diagnostics;

namespace TopicBroker.Tests.Diagnostics;

public sealed class MetricsTests
{
    private static async Task<PrometheusText> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/metrics").DefaultTimeout();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/plain"));
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Metrics_AfterTraffic_ExposeTheBrokerFamiliesLabelledByTopic()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();
        await using var subscriber = await broker.ConnectAsync("orders");
        await subscriber.ReceiveFrameAsync("snapshot");
        await using var bridge = await broker.ConnectBridgeAsync();

        // Enough frames that the sampled publish-to-send histogram has recorded at least one.
        const int updates = BrokerMetrics.LatencySampleEvery + 6;
        for (var i = 1; i <= updates; i++)
        {
            await bridge.SendLineAsync($$$"""{"topic":"orders","id":"order-{{{i % 7}}}","data":{"n":{{{i}}}}}""");
        }

        for (var i = 0; i < updates; i++)
        {
            await bridge.ReadAckAsync();
            await subscriber.ReceiveFrameAsync("update");
        }

        await StatusApiTests.FlushAsync(subscriber);

        var metrics = await ScrapeAsync(http);

        Assert.Multiple(() =>
        {
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_connections").WithValue("gauge"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_seq").WithValue("gauge"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_updates_total").WithValue("counter"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_frames_queued_total").WithValue("counter"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_frames_sent_total").WithValue("counter"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_frames_conflated_total").WithValue("counter"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_frames_dropped_total").WithValue("counter"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_slow_consumer_closes_total").WithValue("counter"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_publish_to_send_seconds").WithValue("histogram"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_ingest_changes_total").WithValue("counter"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_ingest_commits_total").WithValue("counter"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_bridge_connections").WithValue("gauge"));
            Assert.That(metrics.Types, Does.ContainKey("topicbroker_store_healthy").WithValue("gauge"));

            Assert.That(metrics.Value("topicbroker_connections", ("topic", "orders")), Is.EqualTo(1));
            Assert.That(metrics.Value("topicbroker_connections", ("topic", "robots")), Is.Zero);
            Assert.That(metrics.Value("topicbroker_seq", ("topic", "orders")), Is.EqualTo(updates));
            Assert.That(metrics.Value("topicbroker_updates_total", ("topic", "orders")), Is.EqualTo(updates));
            // The snapshot, every update and the pong.
            Assert.That(metrics.Value("topicbroker_frames_sent_total", ("topic", "orders")), Is.EqualTo(updates + 2));
            Assert.That(metrics.Value("topicbroker_slow_consumer_closes_total", ("topic", "orders")), Is.Zero);
            Assert.That(metrics.Value("topicbroker_publish_to_send_seconds_count", ("topic", "orders")), Is.GreaterThanOrEqualTo(1));
            Assert.That(metrics.Value("topicbroker_publish_to_send_seconds_sum", ("topic", "orders")), Is.GreaterThan(0));
            Assert.That(metrics.Value("topicbroker_publish_to_send_seconds_bucket", ("topic", "orders"), ("le", "+Inf")),
                Is.EqualTo(metrics.Value("topicbroker_publish_to_send_seconds_count", ("topic", "orders"))));
            Assert.That(metrics.Value("topicbroker_ingest_changes_total"), Is.EqualTo(updates));
            Assert.That(metrics.Value("topicbroker_bridge_connections"), Is.EqualTo(1));
            Assert.That(metrics.Value("topicbroker_store_healthy"), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Metrics_BrokerSeriesCarryOnlyTheTopicLabel_OnePerConfiguredTopic()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Topics:0"] = "robots",
            ["Broker:Topics:1"] = "orders",
        });
        using var http = broker.CreateHttpClient();
        await using var first = await broker.ConnectAsync("robots");
        await using var second = await broker.ConnectAsync("robots");
        await first.ReceiveFrameAsync("snapshot");
        await second.ReceiveFrameAsync("snapshot");

        var metrics = await ScrapeAsync(http);

        var brokerSeries = metrics.Samples.Where(s => s.Name.StartsWith("topicbroker_", StringComparison.Ordinal)).ToList();
        Assert.That(brokerSeries, Is.Not.Empty);
        // Bounded cardinality: a topic (and a histogram's bucket bound), never a connection.
        Assert.That(brokerSeries.SelectMany(s => s.Labels.Keys).Distinct(), Is.SubsetOf(new[] { "topic", "le" }));
        Assert.That(brokerSeries.Where(s => s.Name == "topicbroker_connections").Select(s => s.Labels["topic"]),
            Is.EquivalentTo(new[] { "robots", "orders" }));
        Assert.That(metrics.Value("topicbroker_connections", ("topic", "robots")), Is.EqualTo(2));
    }
}
