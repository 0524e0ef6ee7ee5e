using System.Net;

namespace TopicBroker.Tests.Cluster;

/// <summary>
/// A cluster whose PostgreSQL goes away (protocol.md "Cluster"): on a private server, since these
/// tests crash it. Nothing acked is lost, nothing unacked is applied; a node past its store-loss
/// deadline sends its clients to resume elsewhere.
/// </summary>
[Category("Cluster")]
[NonParallelizable]
public sealed class ClusterStoreFaultTests : ClusterTestsBase
{
    private protected override bool OwnsPostgres => true;

    [Test]
    public async Task PostgresCrashedAndRestartedUnderLoad_NothingAckedIsLost_NothingUnackedIsApplied()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        var a = await cluster.StartNodeAsync("a");
        var b = await cluster.StartNodeAsync("b");
        await using var onB = await ClusterSubscriber.ConnectAsync(b.HttpUri, "events");
        await onB.WaitForSeqAsync(0);
        await using var bridge = await TestBridgeClient.ConnectAsync(a.BridgeEndPoint);
        var acked = new List<string>();
        var refused = new List<string>();
        var n = 0;
        async Task PublishAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var id = $"e{n++}";
                await bridge.SendLineAsync(ClusterDeliveryTests.Line("events", id));
                var answer = (await bridge.ReadAnswerAsync(TimeSpan.FromSeconds(30)))!.Value;
                if (answer.GetProperty("ok").GetBoolean())
                {
                    acked.Add(id);
                }
                else
                {
                    Assert.That(answer.GetProperty("error").GetString(), Is.EqualTo("unavailable"));
                    refused.Add(id);
                }
            }
        }

        await PublishAsync(40);
        await Postgres.CrashAsync();
        await PublishAsync(5);
        await Postgres.RestartAsync();
        await PublishAsync(40);

        Assert.That(refused, Is.Not.Empty, "publishes while the store was down were refused");
        Assert.That(acked, Has.Count.GreaterThanOrEqualTo(80));
        await onB.WaitForSeqAsync(acked.Count);
        onB.AssertContiguous(1, acked.Count, "subscriber on b");
        Assert.That(onB.Updates.Select(u => u.Id), Is.EqualTo(acked), "every acked change, in order, and none that was refused");
    }

    [Test]
    public async Task StoreLost_PublishesAreRefused_NodeIsNotReady_AndAfterTheDeadlineClientsAreSentElsewhere()
    {
        await using var cluster = await ClusterNodes.CreateAsync(Postgres, Redis.Configuration);
        var a = await cluster.StartNodeAsync("a", "--Broker:Cluster:StoreLossDeadline=00:00:02");
        await ClusterDeliveryTests.PublishAsync(a, "events", "e", 3);
        await using var subscriber = await ClusterSubscriber.ConnectAsync(a.HttpUri, "events");
        await subscriber.WaitForSeqAsync(3);
        using var http = new HttpClient();

        await Postgres.CrashAsync();
        try
        {
            await using (var bridge = await TestBridgeClient.ConnectAsync(a.BridgeEndPoint))
            {
                await bridge.SendLineAsync(ClusterDeliveryTests.Line("events", "lost"));
                var answer = (await bridge.ReadAnswerAsync(TimeSpan.FromSeconds(30)))!.Value;
                Assert.That(answer.GetProperty("error").GetString(), Is.EqualTo("unavailable"), "never an ack without the store");
            }

            Assert.That((await http.GetAsync(new Uri(a.HttpUri, "/ready"))).StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            await subscriber.Closed.DefaultTimeout(TimeSpan.FromSeconds(30));
            Assert.That(subscriber.Shutdown, Is.Not.Null, "a shutdown frame before the close");
            Assert.That(subscriber.Shutdown!.Value.GetProperty("data").GetProperty("resumeFrom").GetInt64(), Is.EqualTo(3));
            Assert.That(subscriber.Shutdown!.Value.GetProperty("data").GetProperty("reason").GetString(), Is.EqualTo("store unavailable"));
        }
        finally
        {
            await Postgres.RestartAsync();
        }
    }
}
