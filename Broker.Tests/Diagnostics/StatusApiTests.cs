using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace TopicBroker.Tests.Diagnostics;

public sealed class StatusApiTests
{
    internal static async Task<JsonElement> GetStatusAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/api/status").DefaultTimeout();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>
    /// Returns once the broker has written every frame queued for <paramref name="client"/> so
    /// far: its one send loop writes in order, so the pong to this ping comes after all of them,
    /// and each frame is counted before the next is written.
    /// </summary>
    internal static async Task FlushAsync(TestWebSocket client)
    {
        await client.SendTextAsync("""{"type":"ping","data":"flush"}""");
        await client.ReceiveFrameAsync("pong");
    }

    [Test]
    public async Task Status_CountsMoveWithRealTraffic()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();
        var before = await GetStatusAsync(http);
        Assert.That(before.GetProperty("topics").GetProperty("orders").GetProperty("updatesIn").GetInt64(), Is.Zero);
        Assert.That(before.GetProperty("topics").GetProperty("orders").GetProperty("lastUpdateAt").ValueKind, Is.EqualTo(JsonValueKind.Null));

        var subscribers = new List<TestWebSocket>();
        for (var i = 0; i < 2; i++)
        {
            var client = await broker.ConnectAsync("orders");
            await client.ReceiveFrameAsync("snapshot");
            subscribers.Add(client);
        }

        await using var bridge = await broker.ConnectBridgeAsync();
        const int updates = 5;
        for (var i = 1; i <= updates; i++)
        {
            Assert.That(await bridge.PublishAsync($$$"""{"topic":"orders","id":"order-{{{i}}}","data":{"n":{{{i}}}}}"""), Is.EqualTo(i));
        }

        foreach (var client in subscribers)
        {
            for (var i = 0; i < updates; i++)
            {
                await client.ReceiveFrameAsync("update");
            }

            await FlushAsync(client);
        }

        var status = await GetStatusAsync(http);
        var orders = status.GetProperty("topics").GetProperty("orders");
        Assert.Multiple(() =>
        {
            Assert.That(orders.GetProperty("subscribers").GetInt32(), Is.EqualTo(2));
            Assert.That(orders.GetProperty("seq").GetInt64(), Is.EqualTo(updates));
            Assert.That(orders.GetProperty("updatesIn").GetInt64(), Is.EqualTo(updates));
            Assert.That(orders.GetProperty("updatesPerSecond").GetDouble(), Is.GreaterThan(0));
            // Per subscriber: the snapshot, the updates and the pong.
            Assert.That(orders.GetProperty("framesOut").GetInt64(), Is.EqualTo(2 * (1 + updates + 1)));
            Assert.That(orders.GetProperty("slowConsumerCloses").GetInt64(), Is.Zero);
            Assert.That(orders.GetProperty("lastUpdateAt").GetDateTimeOffset(), Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)));
            Assert.That(status.GetProperty("topics").GetProperty("robots").GetProperty("updatesIn").GetInt64(), Is.Zero, "other topics are untouched");

            Assert.That(status.GetProperty("bridge").GetProperty("connections").GetInt32(), Is.EqualTo(1));
            Assert.That(status.GetProperty("bridge").GetProperty("listening").GetBoolean(), Is.True);
            Assert.That(status.GetProperty("ingest").GetProperty("committedChanges").GetInt64(), Is.EqualTo(updates));
            Assert.That(status.GetProperty("ingest").GetProperty("changesPerSecond").GetDouble(), Is.GreaterThan(0));
            Assert.That(status.GetProperty("totals").GetProperty("subscribers").GetInt32(), Is.EqualTo(2));
            Assert.That(status.GetProperty("totals").GetProperty("updatesIn").GetInt64(), Is.EqualTo(updates));
            Assert.That(status.GetProperty("totals").GetProperty("framesOut").GetInt64(), Is.EqualTo(2 * (1 + updates + 1)));
            Assert.That(status.GetProperty("health").GetProperty("status").GetString(), Is.EqualTo("Healthy"));
            Assert.That(status.GetProperty("uptimeSeconds").GetDouble(), Is.GreaterThanOrEqualTo(before.GetProperty("uptimeSeconds").GetDouble()));
            Assert.That(status.GetProperty("version").GetString(), Is.Not.Empty);
        });

        foreach (var client in subscribers)
        {
            await client.DisposeAsync();
        }
    }

    [Test]
    public async Task Status_CountsASlowConsumerCloseOnItsTopic()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:SendQueueCapacity"] = "8",
            ["Broker:MaxIngestBatch"] = "4",
        });
        using var http = broker.CreateHttpClient();
        // Never reads: once the socket buffers are full, its 8-frame queue overflows.
        await using var stalled = await broker.ConnectAsync("orders");

        var payload = $$"""{"pad":"{{new string('p', 64 * 1024)}}"}""";
        long closes = 0;
        for (var i = 0; i < 2048 && closes == 0; i++)
        {
            await broker.PublishAsync("orders", "order-1", payload);
            closes = (await GetStatusAsync(http)).GetProperty("topics").GetProperty("orders").GetProperty("slowConsumerCloses").GetInt64();
        }

        Assert.That(closes, Is.EqualTo(1), "128 MiB went to a client that reads nothing");
        var status = await GetStatusAsync(http);
        Assert.That(status.GetProperty("totals").GetProperty("slowConsumerCloses").GetInt64(), Is.EqualTo(1));
        Assert.That(status.GetProperty("topics").GetProperty("orders").GetProperty("subscribers").GetInt32(), Is.Zero);
    }

    [Test]
    public async Task History_RecordsEachTopicsSubscribersAndUpdateRatePerSample()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Diagnostics:SampleInterval"] = "00:00:00.050",
            ["Broker:Diagnostics:RateWindow"] = "00:00:00.500",
            ["Broker:Diagnostics:History"] = "00:00:10",
        });
        using var http = broker.CreateHttpClient();
        await using var subscriber = await broker.ConnectAsync("tables");
        await subscriber.ReceiveFrameAsync("snapshot");
        for (var i = 1; i <= 3; i++)
        {
            await broker.PublishAsync("tables", $"T{i}", """{"state":"free"}""");
        }

        // The sampler's clock is the signal here: poll until a sample after the traffic exists.
        JsonElement? point = null;
        string[] topics = [];
        await Polling.UntilAsync(async () =>
        {
            var history = await http.GetFromJsonAsync<JsonElement>("/api/status/history").DefaultTimeout();
            topics = [.. history.GetProperty("topics").EnumerateArray().Select(t => t.GetString()!)];
            var tables = Array.IndexOf(topics, "tables");
            point = history.GetProperty("samples").EnumerateArray()
                .Where(s => s.GetProperty("updatesPerSecond")[tables].GetDouble() > 0)
                .Cast<JsonElement?>()
                .LastOrDefault();
            return point is not null;
        });

        var index = Array.IndexOf(topics, "tables");
        Assert.That(point!.Value.GetProperty("subscribers")[index].GetInt32(), Is.EqualTo(1));
        Assert.That(point.Value.GetProperty("subscribers")[Array.IndexOf(topics, "robots")].GetInt32(), Is.Zero);
        Assert.That(point.Value.GetProperty("ingestPerSecond").GetDouble(), Is.GreaterThan(0));

        var after = point.Value.GetProperty("time").GetInt64();
        var newer = await http.GetFromJsonAsync<JsonElement>($"/api/status/history?after={after}").DefaultTimeout();
        Assert.That(newer.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("time").GetInt64()), Is.All.GreaterThan(after));
    }
}
