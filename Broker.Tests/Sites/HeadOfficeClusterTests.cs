using System.Net;
using System.Net.WebSockets;
using TopicBroker.Tests.Cluster;

namespace TopicBroker.Tests.Sites;

/// <summary>
/// The head office as a two-node cluster (protocol.md "Sites and upstream replication" and
/// "Cluster"): a restaurant broker on SQLite forwards to one node, and both nodes serve the site,
/// with the restaurant's seqs; the site's link is one at a time in the whole cluster, and moves
/// between nodes without losing or repeating a change.
/// </summary>
[Category("Cluster")]
public sealed class HeadOfficeClusterTests : ClusterTestsBase
{
    /// <summary>Generous: these scenarios run child processes on a shared, loaded machine; a pass takes seconds.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static string Line(string topic, int i) => $$$"""{"topic":"{{{topic}}}","id":"o{{{i}}}","data":{"n":{{{i}}}}}""";

    /// <summary>Publishes changes <paramref name="from"/>.. at the restaurant and returns the last ack's seq.</summary>
    private static async Task<long> PublishAsync(BrokerProcess restaurant, string topic, int from, int count)
    {
        await using var bridge = await TestBridgeClient.ConnectAsync(restaurant.BridgeEndPoint);
        return await bridge.PublishEachAsync(Enumerable.Range(from, count).Select(i => Line(topic, i)));
    }

    private static Task<BrokerProcess> StartHeadOfficeNodeAsync(ClusterNodes cluster, string nodeId, params string[] settings) =>
        cluster.StartNodeAsync(nodeId, ["--Broker:Sites:Enabled=true", .. settings]);

    private static async Task AssertSameStateAsync(BrokerProcess restaurant, BrokerProcess node, string topic)
    {
        var local = await SiteBrokers.SnapshotAsync(restaurant, topic);
        var replica = await SiteBrokers.SnapshotAsync(node, "site-1/" + topic);
        Assert.That(replica.GetProperty("seq").GetInt64(), Is.EqualTo(local.GetProperty("seq").GetInt64()), "the restaurant's seq");
        // The same entities; their order in the object depends on how each broker loaded them.
        static Dictionary<string, string> Entities(System.Text.Json.JsonElement snapshot) =>
            snapshot.GetProperty("data").EnumerateObject().ToDictionary(entity => entity.Name, entity => entity.Value.GetRawText());
        Assert.That(Entities(replica), Is.EquivalentTo(Entities(local)), "the restaurant's data");
    }

    [Test]
    public async Task SiteWrittenThroughNodeA_IsServedByNodeB_WithTheRestaurantsSeqs_InOrder_ExactlyOnce()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        await using var brokers = new SiteBrokers();
        var a = await StartHeadOfficeNodeAsync(cluster, "a");
        var b = await StartHeadOfficeNodeAsync(cluster, "b");
        // Subscribed before the site exists anywhere: an empty snapshot, then the site's changes.
        await using var onA = await ClusterSubscriber.ConnectAsync(a.HttpUri, "site-1/orders");
        await onA.WaitForSeqAsync(0);
        var restaurant = await brokers.StartRestaurantAsync("site-1", "site-1", a.HttpUri);

        var first = await PublishAsync(restaurant, "orders", 1, 30);
        await onA.WaitForSeqAsync(first, Patience);

        // Nobody on b asked for site-1: b learns of it from a's changes and the store.
        await Diagnostics.Polling.UntilAsync(async () =>
            (await SiteBrokers.SnapshotAsync(b, "site-1/orders")).GetProperty("seq").GetInt64() == first, Patience);
        Assert.That((await SiteBrokers.GetJsonAsync(b, "/api/status")).GetProperty("sites").GetProperty("sites").TryGetProperty("site-1", out _), Is.True,
            "b lists the site");
        await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "site-1/orders");
        await onB.WaitForSeqAsync(first, Patience);
        Assert.That(onB.SnapshotSeq, Is.EqualTo(first), "b's snapshot holds what a committed");

        var last = await PublishAsync(restaurant, "orders", 31, 30);
        await Task.WhenAll(onA.WaitForSeqAsync(last, Patience), onB.WaitForSeqAsync(last, Patience));

        Assert.That(onA.SnapshotSeq, Is.Zero);
        onA.AssertContiguous(1, last, "subscriber on a");
        onB.AssertContiguous(first + 1, last, "subscriber on b");
        await AssertSameStateAsync(restaurant, a, "orders");
        await AssertSameStateAsync(restaurant, b, "orders");
    }

    [Test]
    public async Task SecondLinkOfTheSite_OnTheOtherNode_IsRefusedWhileTheFirstIsOpen()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        await using var brokers = new SiteBrokers();
        var a = await StartHeadOfficeNodeAsync(cluster, "a");
        var b = await StartHeadOfficeNodeAsync(cluster, "b");
        var restaurant = await brokers.StartRestaurantAsync("site-1", "site-1", a.HttpUri);
        await Diagnostics.Polling.UntilAsync(async () =>
            (await SiteBrokers.GetJsonAsync(a, "/api/status")).GetProperty("sites").GetProperty("sites").TryGetProperty("site-1", out var site)
            && site.GetProperty("connected").GetBoolean(), Patience);

        using var second = new ClientWebSocket();
        second.Options.CollectHttpResponseDetails = true;
        var refused = Assert.ThrowsAsync<WebSocketException>(() =>
            second.ConnectAsync(new Uri($"ws://{b.HttpUri.Authority}/replicate/site-1"), CancellationToken.None).DefaultTimeout());

        Assert.That(second.HttpStatusCode, Is.EqualTo(HttpStatusCode.Conflict), refused!.Message);
        // The link on a goes on: its changes still arrive.
        var seq = await PublishAsync(restaurant, "orders", 1, 5);
        await Diagnostics.Polling.UntilAsync(async () =>
            (await SiteBrokers.SnapshotAsync(b, "site-1/orders")).GetProperty("seq").GetInt64() == seq, Patience);
    }

    [Test]
    public async Task LinkMovedFromAKilledNodeToTheOther_LosesNothing_RepeatsNothing()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        await using var brokers = new SiteBrokers();
        // b never hears from a over pub/sub and checks the store only every 2 minutes: what it holds
        // of a's commits when the link arrives, it holds only because the link brought it level.
        var a = await StartHeadOfficeNodeAsync(cluster, "a", "--Broker:Cluster:TestFaults:DropEvery=1");
        var b = await StartHeadOfficeNodeAsync(cluster, "b", "--Broker:Cluster:RepairDelay=00:05:00", "--Broker:Cluster:GapHoldTime=00:02:00");
        await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "site-1/orders");
        await onB.WaitForSeqAsync(0);
        var restaurant = await brokers.StartRestaurantAsync("site-1", "site-1", a.HttpUri);
        var throughA = await PublishAsync(restaurant, "orders", 1, 30);
        await Diagnostics.Polling.UntilAsync(async () =>
            (await SiteBrokers.SnapshotAsync(a, "site-1/orders")).GetProperty("seq").GetInt64() == throughA, Patience);

        await a.KillAsync();
        var duringOutage = await PublishAsync(restaurant, "orders", 31, 20);
        Assert.That(await restaurant.TerminateAsync(), Is.Zero);
        brokers.Forget(restaurant);
        // The forwarder takes one URL; the restaurant comes back pointed at b, as through a load balancer.
        restaurant = await brokers.StartRestaurantAsync("site-1", "site-1", b.HttpUri);
        var last = await PublishAsync(restaurant, "orders", 51, 20);

        Assert.That((throughA, duringOutage, last), Is.EqualTo((30L, 50L, 70L)));
        await onB.WaitForSeqAsync(last, Patience);
        Assert.That(onB.SnapshotSeq, Is.Zero);
        onB.AssertContiguous(1, last, "subscriber on b, subscribed before the site existed");
        await AssertSameStateAsync(restaurant, b, "orders");
    }
}
