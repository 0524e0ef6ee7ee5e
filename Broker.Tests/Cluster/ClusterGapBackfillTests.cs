namespace TopicBroker.Tests.Cluster;

/// <summary>
/// The held-gap backfill on its own (protocol.md "Cluster"): a change that arrives beyond the next
/// seq is held for Broker:Cluster:GapHoldTime, then the missing seqs are read from PostgreSQL's
/// updates. The periodic check would repair the same gap a tick later, so the receiving node runs
/// with it off (Broker:Cluster:TestFaults:SkipPeriodicCheckWhileUp): only the backfill can pass.
/// </summary>
[Category("Cluster")]
public sealed class ClusterGapBackfillTests : ClusterTestsBase
{
    [Test]
    public async Task PubSubMessageLostMidStream_TheNextRevealsTheGap_TheHeldGapBackfillDeliversEverySeqOnceInOrder()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        // a loses its 20th pub/sub message, and only that one of the 30 below.
        var a = await cluster.StartNodeAsync("a", "--Broker:Cluster:TestFaults:DropEvery=20");
        var b = await cluster.StartNodeAsync("b",
            "--Broker:Cluster:RepairDelay=00:10:00", "--Broker:Cluster:GapHoldTime=00:00:00.200",
            "--Broker:Cluster:TestFaults:SkipPeriodicCheckWhileUp=true");
        await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "events");
        await onB.WaitForSeqAsync(0);

        // One line at a time: each commit is its own pub/sub message, so seq 20 is the one lost
        // and seq 21, which b receives next, shows b the gap.
        await using (var bridge = await TestBridgeClient.ConnectAsync(a.BridgeEndPoint))
        {
            for (var i = 1; i <= 30; i++)
            {
                Assert.That(await bridge.PublishAsync(ClusterDeliveryTests.Line("events", $"e{i}")), Is.EqualTo(i));
            }
        }

        try
        {
            await onB.WaitForSeqAsync(30, TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            // The assertion below says which seqs never came.
        }

        onB.AssertContiguous(1, 30, "subscriber on b");
        Assert.That(onB.Updates.Select(u => u.Id), Is.EqualTo(Enumerable.Range(1, 30).Select(i => $"e{i}")));
        var status = (await ClusterDeliveryTests.StatusAsync(b)).GetProperty("cluster");
        Assert.That(status.GetProperty("link").GetString(), Is.EqualTo("up"), "the link is up: pub/sub is trusted, so the periodic check is off");
        Assert.That(status.GetProperty("backfills").GetInt64(), Is.GreaterThan(0), "the gap was read from the store");
    }
}
