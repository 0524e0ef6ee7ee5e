using System.Text.Json;

namespace TopicBroker.Tests.Sites;

/// <summary>
/// Restaurant and head-office brokers as real processes (protocol.md "Sites and upstream
/// replication"): every committed change reaches the head office once, in the restaurant's seq
/// order, across outages, restarts and kill -9.
/// </summary>
[Category("Process")]
public sealed class ReplicationProcessTests
{
    private static string Line(string topic, int i) => $$$"""{"topic":"{{{topic}}}","id":"o{{{i % 7}}}","data":{"n":{{{i}}}}}""";

    /// <summary>Publishes <paramref name="count"/> changes at once on the bridge (pipelined) and returns the last seq.</summary>
    private static async Task<long> PublishManyAsync(BrokerProcess restaurant, string topic, int from, int count)
    {
        await using var bridge = await TestBridgeClient.ConnectAsync(restaurant.BridgeEndPoint);
        for (var i = from; i < from + count; i++)
        {
            await bridge.SendLineAsync(Line(topic, i));
        }

        long seq = 0;
        for (var i = 0; i < count; i++)
        {
            seq = await bridge.ReadAckAsync();
        }

        return seq;
    }

    private static void AssertEachSeqOnceInOrder(IEnumerable<JsonElement> frames, long from, long to)
    {
        var seqs = frames.Where(f => f.GetProperty("type").GetString() == "update").Select(f => f.GetProperty("seq").GetInt64()).ToList();
        Assert.That(seqs, Is.EqualTo(Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => (long)i)), "every change once, in the restaurant's order");
    }

    private static async Task AssertSameStateAsync(BrokerProcess restaurant, BrokerProcess headOffice, string site, string topic)
    {
        var local = await SiteBrokers.SnapshotAsync(restaurant, topic);
        var replica = await SiteBrokers.SnapshotAsync(headOffice, site + "/" + topic);
        Assert.That(replica.GetProperty("seq").GetInt64(), Is.EqualTo(local.GetProperty("seq").GetInt64()), "same seq");
        Assert.That(replica.GetProperty("data").GetRawText(), Is.EqualTo(local.GetProperty("data").GetRawText()), "same data");
    }

    [Test]
    public async Task ChangeAtRestaurant_AppearsAtHeadOffice_WithTheSameSeqAndData()
    {
        await using var brokers = new SiteBrokers();
        var headOffice = await brokers.StartHeadOfficeAsync("hq");
        await using var screen = await SiteBrokers.SubscribeAsync(headOffice, "site-1/orders");
        var restaurant = await brokers.StartRestaurantAsync("site-1", "site-1", headOffice.HttpUri);

        await PublishManyAsync(restaurant, "tables", 0, 1);
        var last = await PublishManyAsync(restaurant, "orders", 0, 20);
        await using (var bridge = await TestBridgeClient.ConnectAsync(restaurant.BridgeEndPoint))
        {
            last = await bridge.PublishAsync("""{"topic":"orders","id":"o3","op":"delete"}""");
        }

        var frames = await SiteBrokers.ReceiveUntilSeqAsync(screen, last);
        AssertEachSeqOnceInOrder(frames.Skip(1), 1, last);
        Assert.That(frames[^1].GetProperty("op").GetString(), Is.EqualTo("delete"));
        await AssertSameStateAsync(restaurant, headOffice, "site-1", "orders");
        await AssertSameStateAsync(restaurant, headOffice, "site-1", "tables");

        // Both sides show the position: forwarded and acknowledged per topic.
        await Diagnostics.Polling.UntilAsync(async () =>
            (await SiteBrokers.GetJsonAsync(restaurant, "/api/status")).GetProperty("upstream").GetProperty("topics").GetProperty("orders").GetProperty("acknowledged").GetInt64() == last);
        var upstream = (await SiteBrokers.GetJsonAsync(restaurant, "/api/status")).GetProperty("upstream");
        Assert.That(upstream.GetProperty("connected").GetBoolean(), Is.True);
        Assert.That(upstream.GetProperty("topics").GetProperty("orders").GetProperty("forwarded").GetInt64(), Is.EqualTo(last));
        Assert.That(upstream.GetProperty("topics").GetProperty("orders").GetProperty("lag").GetInt64(), Is.Zero);
        await Diagnostics.Polling.UntilAsync(async () =>
            (await SiteBrokers.GetJsonAsync(headOffice, "/api/status")).GetProperty("sites").GetProperty("sites").GetProperty("site-1").GetProperty("topics").GetProperty("orders").GetProperty("restaurantSeq").GetInt64() == last);
        var site = (await SiteBrokers.GetJsonAsync(headOffice, "/api/status")).GetProperty("sites").GetProperty("sites").GetProperty("site-1");
        Assert.That(site.GetProperty("connected").GetBoolean(), Is.True);
        Assert.That(site.GetProperty("topics").GetProperty("orders").GetProperty("acknowledged").GetInt64(), Is.EqualTo(last));
        Assert.That(site.GetProperty("topics").GetProperty("orders").GetProperty("lag").GetInt64(), Is.Zero);
        using var http = new HttpClient { BaseAddress = headOffice.HttpUri };
        var metrics = await http.GetStringAsync("/metrics").DefaultTimeout();
        Assert.That(metrics, Does.Contain($"topicbroker_upstream_acknowledged_seq{{site=\"site-1\",topic=\"orders\"}} {last}"));
    }

    [Test]
    public async Task HeadOfficeStoppedAWhile_ChangesMeanwhile_ArriveOnceInOrderAfterItsRestart()
    {
        await using var brokers = new SiteBrokers();
        var headOffice = await brokers.StartHeadOfficeAsync("hq");
        var port = headOffice.HttpUri.Port;
        var restaurant = await brokers.StartRestaurantAsync("site-1", "site-1", headOffice.HttpUri);
        var before = await PublishManyAsync(restaurant, "orders", 0, 5);
        await using (var screen = await SiteBrokers.SubscribeAsync(headOffice, "site-1/orders"))
        {
            await SiteBrokers.ReceiveUntilSeqAsync(screen, before);
        }

        Assert.That(await headOffice.TerminateAsync(), Is.Zero);
        brokers.Forget(headOffice);
        await headOffice.DisposeAsync();
        // The restaurant goes on serving its own screens meanwhile.
        var last = await PublishManyAsync(restaurant, "orders", 5, 50);

        headOffice = await brokers.StartHeadOfficeAsync("hq", port);
        await using var resumed = await SiteBrokers.SubscribeAsync(headOffice, "site-1/orders", since: before);
        var frames = await SiteBrokers.ReceiveUntilSeqAsync(resumed, last);

        AssertEachSeqOnceInOrder(frames, before + 1, last);
        await AssertSameStateAsync(restaurant, headOffice, "site-1", "orders");
        var status = await SiteBrokers.GetJsonAsync(headOffice, "/api/status");
        Assert.That(status.GetProperty("topics").GetProperty("site-1/orders").GetProperty("updatesIn").GetInt64(), Is.EqualTo(last - before), "each change applied once");
    }

    [Test]
    public async Task RestaurantKilledMidForwarding_AndRestarted_NothingLostNothingDuplicated()
    {
        await using var brokers = new SiteBrokers();
        var headOffice = await brokers.StartHeadOfficeAsync("hq");
        await using var screen = await SiteBrokers.SubscribeAsync(headOffice, "site-1/orders");
        await screen.ReceiveFrameAsync("snapshot");
        // A small window keeps the forwarding going for a while, so the kill lands in its middle.
        var restaurant = await brokers.StartRestaurantAsync("site-1", "site-1", headOffice.HttpUri, "--Broker:Upstream:Window=8");

        const int total = 3000;
        var last = await PublishManyAsync(restaurant, "orders", 0, total);
        var first = await SiteBrokers.ReceiveUntilSeqAsync(screen, 1);
        await restaurant.KillAsync();
        brokers.Forget(restaurant);
        await restaurant.DisposeAsync();
        var atKill = (await SiteBrokers.SnapshotAsync(headOffice, "site-1/orders")).GetProperty("seq").GetInt64();
        Assert.That(atKill, Is.LessThan(last), "killed while forwarding");

        restaurant = await brokers.StartRestaurantAsync("site-1", "site-1", headOffice.HttpUri, "--Broker:Upstream:Window=8");
        var rest = await SiteBrokers.ReceiveUntilSeqAsync(screen, last);

        AssertEachSeqOnceInOrder(first.Concat(rest), 1, last);
        await AssertSameStateAsync(restaurant, headOffice, "site-1", "orders");
        var status = await SiteBrokers.GetJsonAsync(headOffice, "/api/status");
        Assert.That(status.GetProperty("topics").GetProperty("site-1/orders").GetProperty("updatesIn").GetInt64(), Is.EqualTo(last), "each change applied once");
    }

    [Test]
    public async Task TwoRestaurants_IntoOneHeadOffice_DoNotCross()
    {
        await using var brokers = new SiteBrokers();
        var headOffice = await brokers.StartHeadOfficeAsync("hq");
        var a = await brokers.StartRestaurantAsync("a", "site-a", headOffice.HttpUri);
        var b = await brokers.StartRestaurantAsync("b", "site-b", headOffice.HttpUri);
        await using var screenA = await SiteBrokers.SubscribeAsync(headOffice, "site-a/orders");
        await using var screenB = await SiteBrokers.SubscribeAsync(headOffice, "site-b/orders");

        var lastA = await PublishManyAsync(a, "orders", 0, 30);
        var lastB = await PublishManyAsync(b, "orders", 1000, 12);

        await SiteBrokers.ReceiveUntilSeqAsync(screenA, lastA);
        await SiteBrokers.ReceiveUntilSeqAsync(screenB, lastB);
        await AssertSameStateAsync(a, headOffice, "site-a", "orders");
        await AssertSameStateAsync(b, headOffice, "site-b", "orders");
        Assert.That((await SiteBrokers.SnapshotAsync(headOffice, "orders")).GetProperty("seq").GetInt64(), Is.Zero, "head office's own topic untouched");
    }

    [Test]
    public async Task BacklogOlderThanTheHistory_IsSentAsOneResynchronisation()
    {
        await using var brokers = new SiteBrokers();
        var headOffice = await brokers.StartHeadOfficeAsync("hq");
        var port = headOffice.HttpUri.Port;
        var restaurant = await brokers.StartRestaurantAsync("site-1", "site-1", headOffice.HttpUri, "--Broker:HistorySize=5");
        var before = await PublishManyAsync(restaurant, "orders", 0, 3);
        await using (var screen = await SiteBrokers.SubscribeAsync(headOffice, "site-1/orders"))
        {
            await SiteBrokers.ReceiveUntilSeqAsync(screen, before);
        }

        Assert.That(await headOffice.TerminateAsync(), Is.Zero);
        brokers.Forget(headOffice);
        await headOffice.DisposeAsync();
        var last = await PublishManyAsync(restaurant, "orders", 3, 40);
        await using (var bridge = await TestBridgeClient.ConnectAsync(restaurant.BridgeEndPoint))
        {
            last = await bridge.PublishAsync("""{"topic":"orders","id":"o1","op":"delete"}""");
        }

        headOffice = await brokers.StartHeadOfficeAsync("hq", port);
        await using var resumed = await SiteBrokers.SubscribeAsync(headOffice, "site-1/orders", since: before);
        var frames = await SiteBrokers.ReceiveUntilSeqAsync(resumed, last);

        Assert.That(frames[^1].GetProperty("type").GetString(), Is.EqualTo("snapshot"), "the head office's subscribers get the resynchronisation as a snapshot");
        await AssertSameStateAsync(restaurant, headOffice, "site-1", "orders");
        await Diagnostics.Polling.UntilAsync(async () =>
            (await SiteBrokers.GetJsonAsync(restaurant, "/api/status")).GetProperty("upstream").GetProperty("topics").GetProperty("orders").GetProperty("resyncs").GetInt64() == 1);
    }
}
