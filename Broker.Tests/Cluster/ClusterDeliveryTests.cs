using System.Net.Http.Json;
using System.Text.Json;

namespace TopicBroker.Tests.Cluster;

/// <summary>
/// Cluster mode end to end (protocol.md "Cluster"): brokers as child processes on the run's
/// PostgreSQL and Redis. Every acked update reaches every subscriber on every node exactly once,
/// in seq order, whatever pub/sub does to the messages between them.
/// </summary>
[Category("Cluster")]
public sealed class ClusterDeliveryTests : ClusterTestsBase
{
    [Test]
    public async Task UpdatesPublishedOnOneNode_ReachSubscribersOfTheOther_InSeqOrder()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        var a = await cluster.StartNodeAsync("a");
        var b = await cluster.StartNodeAsync("b");
        await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "orders");
        await onB.WaitForSeqAsync(0);

        var acked = await PublishAsync(a, "orders", "o", 200);

        Assert.That(acked, Is.EqualTo(Enumerable.Range(1, 200).Select(i => (long)i)));
        await onB.WaitForSeqAsync(200);
        onB.AssertContiguous(1, 200, "subscriber on b");
        Assert.That(onB.Updates.Select(u => u.Id), Is.EqualTo(Enumerable.Range(0, 200).Select(i => $"o{i}")));

        var status = await StatusAsync(b);
        Assert.That(status.GetProperty("cluster").GetProperty("nodeId").GetString(), Is.EqualTo("b"));
        Assert.That(status.GetProperty("cluster").GetProperty("link").GetString(), Is.EqualTo("up"));
        Assert.That(status.GetProperty("cluster").GetProperty("topics").GetProperty("orders").GetProperty("applied").GetInt64(), Is.EqualTo(200));
    }

    [Test]
    public async Task ConcurrentPublishersOnTwoNodes_GiveOneTopicContiguousSeqs_InTheSameOrderOnBoth()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        var a = await cluster.StartNodeAsync("a");
        var b = await cluster.StartNodeAsync("b");
        await using var onA = await ClusterSubscriber.ConnectAsync(a.HttpUri, "orders");
        await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "orders");
        await Task.WhenAll(onA.WaitForSeqAsync(0), onB.WaitForSeqAsync(0));

        var acks = await Task.WhenAll(
            PublishAsync(a, "orders", "a", 300, batch: 20),
            PublishAsync(b, "orders", "b", 300, batch: 20));

        Assert.That(acks.SelectMany(x => x).Order(), Is.EqualTo(Enumerable.Range(1, 600).Select(i => (long)i)), "every seq taken once");
        await Task.WhenAll(onA.WaitForSeqAsync(600), onB.WaitForSeqAsync(600));
        onA.AssertContiguous(1, 600, "subscriber on a");
        onB.AssertContiguous(1, 600, "subscriber on b");
        Assert.That(onB.Updates, Is.EqualTo(onA.Updates), "the same order on both nodes");
    }

    [Test]
    public async Task LostReorderedAndDuplicatedPubSubMessages_AreRepairedByTheReceivingNode()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        var a = await cluster.StartNodeAsync("a",
            "--Broker:Cluster:TestFaults:DropEvery=7", "--Broker:Cluster:TestFaults:DuplicateEvery=3", "--Broker:Cluster:TestFaults:ReorderEvery=5");
        var b = await cluster.StartNodeAsync("b");
        await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "orders");
        await onB.WaitForSeqAsync(0);

        // One line at a time: each commit is its own pub/sub message, so the faults hit many.
        await using (var bridge = await TestBridgeClient.ConnectAsync(a.BridgeEndPoint))
        {
            for (var i = 1; i <= 100; i++)
            {
                Assert.That(await bridge.PublishAsync(Line("orders", $"o{i}")), Is.EqualTo(i));
            }
        }

        // The 100th message may be the one lost or held back: the periodic check brings it.
        await onB.WaitForSeqAsync(100);
        onB.AssertContiguous(1, 100, "subscriber on b");
        var cluster_ = (await StatusAsync(b)).GetProperty("cluster");
        Assert.That(cluster_.GetProperty("duplicatesDropped").GetInt64(), Is.GreaterThan(0), "duplicates arrived and were dropped");
        Assert.That(cluster_.GetProperty("backfills").GetInt64(), Is.GreaterThan(0), "gaps were read from the store");
    }

    [Test]
    public async Task ExternalWriteOnPostgres_IsPickedUpByExactlyOneNode_AndReachesBoth()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        var a = await cluster.StartNodeAsync("a", "--Broker:PollingInterval=00:00:00.200");
        var b = await cluster.StartNodeAsync("b", "--Broker:PollingInterval=00:00:00.200");
        await using var onA = await ClusterSubscriber.ConnectAsync(a.HttpUri, "tables");
        await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "tables");
        await Task.WhenAll(onA.WaitForSeqAsync(0), onB.WaitForSeqAsync(0));

        await PostgresServer.ExecuteAsync(cluster.ConnectionString, """INSERT INTO entities (topic, id, data) VALUES ('tables', 'T4', '{"state":"free"}')""");
        await Task.WhenAll(onA.WaitForSeqAsync(1), onB.WaitForSeqAsync(1));
        // Several polls later, a marker: had a second node claimed the row too, it would sit between.
        await using (var bridge = await TestBridgeClient.ConnectAsync(a.BridgeEndPoint))
        {
            await bridge.SendLineAsync("""{"topic":"tables","id":"marker","data":{}}""");
            Assert.That((await bridge.ReadAckAsync()), Is.EqualTo(2), "the external row took exactly one seq");
        }

        await Task.WhenAll(onA.WaitForSeqAsync(2), onB.WaitForSeqAsync(2));
        Assert.That(onA.Updates, Is.EqualTo(new[] { (1L, "T4"), (2L, "marker") }));
        Assert.That(onB.Updates, Is.EqualTo(new[] { (1L, "T4"), (2L, "marker") }));
        Assert.That(await PostgresServer.ScalarAsync(cluster.ConnectionString, "SELECT count(*) FROM updates WHERE topic = 'tables'"), Is.EqualTo(2L));
    }

    [Test]
    public async Task NodeKilledUnderLoad_ItsSubscriberResumesOnTheOtherNodeWithSince_NoGapNoDuplicate()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        var a = await cluster.StartNodeAsync("a");
        var b = await cluster.StartNodeAsync("b");
        await using var first = await ClusterSubscriber.ConnectAsync(a.HttpUri, "events");
        await first.WaitForSeqAsync(0);

        // Publishers on both nodes keep going while a is killed.
        using var stop = new CancellationTokenSource();
        var onA = PublishUntilAsync(a, "events", "a", stop.Token);
        var onB = PublishUntilAsync(b, "events", "b", stop.Token);
        await first.WaitForSeqAsync(150);
        await a.KillAsync();
        await first.Closed.DefaultTimeout();
        var resumeFrom = first.LastSeq;

        await using var resumed = await ClusterSubscriber.ConnectAsync(b.HttpUri, "events", since: resumeFrom);
        await resumed.WaitForSeqAsync(resumeFrom + 100);
        stop.Cancel();
        var ackedOnB = await onB;
        await onA;
        var last = ackedOnB.Max();
        await resumed.WaitForSeqAsync(last);

        Assert.That(resumed.SnapshotSeq, Is.Null, "a resume, not a snapshot");
        var all = first.Updates.Concat(resumed.Updates).Select(u => u.Seq).ToList();
        Assert.That(all.Take((int)last), Is.EqualTo(Enumerable.Range(1, (int)last).Select(i => (long)i)), "no gap, no duplicate across the move");
    }

    [Test]
    public async Task ResumeAheadOfThisNode_CatchesUpFirst_ThenReplays()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        // b never hears from a over pub/sub and checks the store only every 30 s: only the catch-up can bring it level.
        var a = await cluster.StartNodeAsync("a", "--Broker:Cluster:TestFaults:DropEvery=1");
        var b = await cluster.StartNodeAsync("b", "--Broker:Cluster:RepairDelay=00:01:00", "--Broker:Cluster:GapHoldTime=00:00:30");
        await PublishAsync(a, "events", "e", 20);

        // events is not rebroadcast, so any snapshot would be the resume's.
        await using var resumed = await ClusterSubscriber.ConnectAsync(b.HttpUri, "events", since: 15);
        await resumed.WaitForSeqAsync(20, TimeSpan.FromSeconds(10));

        Assert.That(resumed.SnapshotSeq, Is.Null, "the client came from a node at 15; it gets a replay");
        resumed.AssertContiguous(16, 20, "resumed on b");
    }

    [Test]
    public async Task RedisKilledAndRestartedUnderLoad_AcksNeverStop_AndSubscribersSeeNoGap()
    {
        var redis = await RedisServer.StartPrivateAsync();
        try
        {
            await using var cluster = await ClusterNodes.CreateAsync(Postgres, redis.Configuration);
            var a = await cluster.StartNodeAsync("a");
            var b = await cluster.StartNodeAsync("b");
            await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "orders");
            await onB.WaitForSeqAsync(0);
            await using var bridge = await TestBridgeClient.ConnectAsync(a.BridgeEndPoint);
            var seq = 0L;
            async Task PublishSomeAsync(int count)
            {
                for (var i = 0; i < count; i++)
                {
                    Assert.That(await bridge.PublishAsync(Line("orders", $"o{seq}")), Is.EqualTo(++seq));
                }
            }

            await PublishSomeAsync(50);
            await redis.KillAsync();
            await PublishSomeAsync(50); // acks go on without Redis
            await onB.WaitForSeqAsync(seq); // delivered from the store within the repair delay
            Assert.That((await StatusAsync(b)).GetProperty("cluster").GetProperty("degraded").GetBoolean(), Is.True, "status says the link is degraded");
            using (var http = new HttpClient())
            {
                Assert.That((int)(await http.GetAsync(new Uri(b.HttpUri, "/ready"))).StatusCode, Is.EqualTo(200), "ready without Redis");
            }

            await redis.RestartAsync();
            await PublishSomeAsync(50);
            await onB.WaitForSeqAsync(seq);
            onB.AssertContiguous(1, seq, "subscriber on b");
        }
        finally
        {
            await redis.StopAsync();
        }
    }

    [Test]
    public async Task RedisBackAfterAnOutage_TheNodeReadsWhatItMissedAtOnce_NotAtItsNextPeriodicCheck()
    {
        var redis = await RedisServer.StartPrivateAsync();
        try
        {
            await using var cluster = await ClusterNodes.CreateAsync(Postgres, redis.Configuration);
            var a = await cluster.StartNodeAsync("a");
            // b compares committed seqs with its own only every five minutes: within this test only
            // the reconnect (protocol.md "Cluster": a Redis reconnect triggers a backfill at once) brings it level.
            var b = await cluster.StartNodeAsync("b", "--Broker:Cluster:RepairDelay=00:10:00", "--Broker:Cluster:GapHoldTime=00:05:00");
            await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "orders");
            await onB.WaitForSeqAsync(0);

            await redis.KillAsync();
            var acked = await PublishAsync(a, "orders", "o", 10); // their pub/sub messages are lost with Redis
            await redis.RestartAsync();

            Assert.That(acked, Is.EqualTo(Enumerable.Range(1, 10).Select(i => (long)i)));
            await onB.WaitForSeqAsync(10, TimeSpan.FromSeconds(60));
            onB.AssertContiguous(1, 10, "subscriber on b");
        }
        finally
        {
            await redis.StopAsync();
        }
    }

    internal static async Task<List<long>> PublishAsync(BrokerProcess node, string topic, string prefix, int count, int batch = 50)
    {
        await using var bridge = await TestBridgeClient.ConnectAsync(node.BridgeEndPoint);
        var acks = new List<long>(count);
        for (var sent = 0; sent < count; sent += batch)
        {
            var n = Math.Min(batch, count - sent);
            for (var i = 0; i < n; i++)
            {
                await bridge.SendLineAsync(Line(topic, $"{prefix}{sent + i}"));
            }

            for (var i = 0; i < n; i++)
            {
                acks.Add(await bridge.ReadAckAsync());
            }
        }

        return acks;
    }

    /// <summary>Publishes in small pipelined batches until stopped or the node goes away; returns the acked seqs.</summary>
    internal static async Task<List<long>> PublishUntilAsync(BrokerProcess node, string topic, string prefix, CancellationToken stop)
    {
        var acks = new List<long>();
        try
        {
            await using var bridge = await TestBridgeClient.ConnectAsync(node.BridgeEndPoint);
            for (var round = 0; !stop.IsCancellationRequested && round < 10_000; round++)
            {
                for (var i = 0; i < 10; i++)
                {
                    await bridge.SendLineAsync(Line(topic, $"{prefix}{round}-{i}"));
                }

                for (var i = 0; i < 10; i++)
                {
                    if (await bridge.ReadAnswerAsync() is not { } answer)
                    {
                        return acks;
                    }

                    if (answer.GetProperty("ok").GetBoolean())
                    {
                        acks.Add(answer.GetProperty("seq").GetInt64());
                    }
                }
            }
        }
        catch (IOException)
        {
        }
        catch (System.Net.Sockets.SocketException)
        {
        }

        return acks;
    }

    internal static string Line(string topic, string id) => "{\"topic\":\"" + topic + "\",\"id\":\"" + id + "\",\"data\":{\"at\":1}}";

    internal static async Task<JsonElement> StatusAsync(BrokerProcess node)
    {
        using var http = new HttpClient();
        return await http.GetFromJsonAsync<JsonElement>(new Uri(node.HttpUri, "/api/status")).DefaultTimeout();
    }
}
