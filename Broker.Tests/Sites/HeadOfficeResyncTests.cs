using System.Text.Json;
using TopicBroker.Tests.Cluster;

namespace TopicBroker.Tests.Sites;

/// <summary>
/// A site topic resynchronised on one node of a two-node head office (protocol.md "Cluster",
/// resynchronised topics, and "Sites and upstream replication"): the restaurant's link is on
/// node a, the subscriber on node b. A restaurant with a fresh database resynchronises the topic
/// at its own seq, lower than the head office's (the replaced-database case), or higher with a
/// history that no longer reaches back; b must follow: a snapshot of the new state, then every
/// later change exactly once, in order, never a change of the replaced state.
/// </summary>
[Category("Cluster")]
public sealed class HeadOfficeResyncTests : ClusterTestsBase
{
    /// <summary>Generous: these scenarios run child processes on a shared, loaded machine; a pass takes seconds.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Head-office node settings: no quiet-topic rebroadcast (orders is rebroadcast by default
    /// after Broker:PollingInterval of quiet), so every snapshot the subscriber gets is one the
    /// scenario caused.
    /// </summary>
    private static readonly string[] HeadOffice = ["--Broker:Sites:Enabled=true", "--Broker:PollingInterval=01:00:00"];

    private static string Line(string prefix, int i) => $$$"""{"topic":"orders","id":"{{{prefix}}}{{{i}}}","data":{"n":{{{i}}}}}""";

    /// <summary>Publishes changes <paramref name="from"/>.. of "orders" and returns the last ack's seq.</summary>
    private static async Task<long> PublishAsync(BrokerProcess broker, string prefix, int from, int count)
    {
        await using var bridge = await TestBridgeClient.ConnectAsync(broker.BridgeEndPoint);
        return await bridge.PublishEachAsync(Enumerable.Range(from, count).Select(i => Line(prefix, i)));
    }

    /// <summary>
    /// The first restaurant forwards 30 changes through node a, the subscriber on b has them all;
    /// then it is replaced by a restaurant with a database of its own holding
    /// <paramref name="freshCount"/> changes (and a history of 5), which resynchronises the site
    /// topic on a at seq <paramref name="freshCount"/>. Returns the new restaurant.
    /// </summary>
    private static async Task<BrokerProcess> ReplaceTheRestaurantAsync(SiteBrokers brokers, BrokerProcess a, TestWebSocket onB, int freshCount)
    {
        var first = await brokers.StartRestaurantAsync("site-1", "site-1", a.HttpUri);
        var before = await PublishAsync(first, "old", 1, 30);
        var frames = await SiteBrokers.ReceiveUntilSeqAsync(onB, before, Patience);
        Assert.That(Describe(frames), Is.EqualTo("snapshot:0," + string.Join(",", Enumerable.Range(1, 30).Select(i => "update:" + i))), "b had the first restaurant's changes");
        Assert.That(await first.TerminateAsync(), Is.Zero);
        brokers.Forget(first);
        await first.DisposeAsync();

        // The replacement box gets its data first, on its own, then is pointed at the head office.
        var fresh = await brokers.StartHeadOfficeAsync("site-1-fresh", 0, "--Broker:HistorySize=5");
        Assert.That(await PublishAsync(fresh, "new", 1, freshCount), Is.EqualTo(freshCount));
        Assert.That(await fresh.TerminateAsync(), Is.Zero);
        brokers.Forget(fresh);
        await fresh.DisposeAsync();
        var restaurant = await brokers.StartRestaurantAsync("site-1-fresh", "site-1", a.HttpUri, "--Broker:HistorySize=5");
        await Diagnostics.Polling.UntilAsync(async () =>
            (await SiteBrokers.GetJsonAsync(restaurant, "/api/status")).GetProperty("upstream").GetProperty("topics").GetProperty("orders").GetProperty("resyncs").GetInt64() == 1
            && (await SiteBrokers.SnapshotAsync(a, "site-1/orders")).GetProperty("seq").GetInt64() == freshCount, Patience);
        return restaurant;
    }

    private static string Describe(List<JsonElement> frames) => string.Join(",", frames.Select(f => Type(f) + ":" + Seq(f)));

    private static long Seq(JsonElement frame) => frame.GetProperty("seq").GetInt64();

    private static string Type(JsonElement frame) => frame.GetProperty("type").GetString()!;

    private static Dictionary<string, string> Entities(JsonElement snapshot) =>
        snapshot.GetProperty("data").EnumerateObject().ToDictionary(entity => entity.Name, entity => entity.Value.GetRawText());

    /// <summary>
    /// <paramref name="frames"/> (everything b sent after the first restaurant's changes) is one
    /// snapshot of the replacement's state at a seq in [<paramref name="snapshotFrom"/>, <paramref name="last"/>],
    /// then every update after it up to <paramref name="last"/>, each once, in order.
    /// </summary>
    private static void AssertSnapshotThenContiguous(List<JsonElement> frames, long snapshotFrom, long last)
    {
        Assert.That(frames, Is.Not.Empty);
        Assert.That(Type(frames[0]), Is.EqualTo("snapshot"), "b's subscriber first gets the resynchronised state; got " + Describe(frames));
        var snapshotSeq = Seq(frames[0]);
        Assert.That(snapshotSeq, Is.InRange(snapshotFrom, last));
        Assert.That(Entities(frames[0]).Keys.Where(id => id.StartsWith("old", StringComparison.Ordinal)), Is.Empty, "nothing of the replaced state");
        Assert.That(Entities(frames[0]), Has.Count.EqualTo(snapshotSeq), "one entity per change up to the snapshot's seq");
        var updates = frames.Skip(1).ToList();
        Assert.That(updates.Select(Type), Is.All.EqualTo("update"));
        Assert.That(updates.Select(Seq), Is.EqualTo(Enumerable.Range((int)snapshotSeq + 1, (int)(last - snapshotSeq)).Select(i => (long)i)),
            "every later seq exactly once, in order");
        Assert.That(updates.Select(f => f.GetProperty("id").GetString()), Is.All.StartsWith("new"), "the replacement's changes, not the replaced state's");
    }

    private static async Task AssertSameStateAsync(BrokerProcess restaurant, BrokerProcess node)
    {
        var local = await SiteBrokers.SnapshotAsync(restaurant, "orders");
        var replica = await SiteBrokers.SnapshotAsync(node, "site-1/orders");
        Assert.That(Seq(replica), Is.EqualTo(Seq(local)), "the restaurant's seq");
        Assert.That(Entities(replica), Is.EquivalentTo(Entities(local)), "the restaurant's data");
    }

    /// <summary>
    /// b checks the store only every few minutes, so what reaches its subscriber in time came by
    /// a's resync notice on Redis. 5: the seq goes back from 30 (the replaced-database case); 50:
    /// it jumps forward past changes the store's history no longer holds.
    /// </summary>
    [TestCase(5)]
    [TestCase(50)]
    public async Task ResyncOnNodeA_ReachesTheSubscriberOnNodeB_AsASnapshot_ThenEveryLaterUpdateOnceInOrder(int freshCount)
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        await using var brokers = new SiteBrokers();
        var a = await cluster.StartNodeAsync("a", HeadOffice);
        var b = await cluster.StartNodeAsync("b", [.. HeadOffice, "--Broker:Cluster:RepairDelay=00:05:00", "--Broker:Cluster:GapHoldTime=00:02:00"]);
        await using var onB = await SiteBrokers.SubscribeAsync(b, "site-1/orders");
        var restaurant = await ReplaceTheRestaurantAsync(brokers, a, onB, freshCount);

        // Past the head office's old seq (30): no change may be taken for a resend, none for the old state's.
        var last = await PublishAsync(restaurant, "new", freshCount + 1, 40);
        var frames = await SiteBrokers.ReceiveUntilSeqAsync(onB, last, Patience);

        AssertSnapshotThenContiguous(frames, freshCount, last);
        Assert.That(Seq(frames[0]), Is.EqualTo(freshCount), "the notice arrives before the changes after it");
        await AssertSameStateAsync(restaurant, b);
        await AssertSameStateAsync(restaurant, a);
    }

    /// <summary>
    /// Every message of a's on Redis is lost, the resync notice with them: b delivers from the
    /// store, and finds the topic's committed seq below what it applied, so it reloads the topic.
    /// </summary>
    [Test]
    public async Task ResyncNoticeLost_NodeBFindsTheCommittedSeqBelowItsOwn_AndReloadsTheTopic()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        await using var brokers = new SiteBrokers();
        var a = await cluster.StartNodeAsync("a", [.. HeadOffice, "--Broker:Cluster:TestFaults:DropEvery=1"]);
        var b = await cluster.StartNodeAsync("b", HeadOffice);
        await using var onB = await SiteBrokers.SubscribeAsync(b, "site-1/orders");
        var restaurant = await ReplaceTheRestaurantAsync(brokers, a, onB, 5);

        // Still below the old seq, as the check needs (protocol.md "Cluster").
        var last = await PublishAsync(restaurant, "new", 6, 10);
        var frames = await SiteBrokers.ReceiveUntilSeqAsync(onB, last, Patience);

        AssertSnapshotThenContiguous(frames, 5, last);
        await AssertSameStateAsync(restaurant, b);
        Assert.That((await SiteBrokers.GetJsonAsync(b, "/api/status")).GetProperty("cluster").GetProperty("resynchronizations").GetInt64(), Is.EqualTo(1));
    }
}
