using System.Net.WebSockets;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Connections;

public sealed class DeliveryPolicyTests
{
    [Test]
    public async Task LatestPolicy_SlowSubscriber_GetsTheNewestValuePerId_InSeqOrder_AndIsNeverDisconnected()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:SendQueueCapacity"] = "8",
            ["Broker:MaxIngestBatch"] = "4",
            ["Broker:DeliveryPolicies:robots"] = "Latest",
        });
        await using var stalled = await broker.ConnectAsync("robots");
        await using var reader = await broker.ConnectAsync("robots");
        await reader.ReceiveFrameAsync("snapshot");

        // 32 MiB for a client that reads nothing: its 8-frame queue must overflow, so conflation
        // must start. The reading client paces the publisher so it never falls behind itself.
        const int count = 512;
        var ids = new[] { "robot-a", "robot-b", "robot-c" };
        var pad = new string('p', 64 * 1024);
        var lastSeqOf = new Dictionary<string, long>();
        using var readerCredit = new SemaphoreSlim(4);
        var readAll = Task.Run(async () =>
        {
            for (var received = 0; received < count; received++)
            {
                await reader.ReceiveFrameAsync("update");
                readerCredit.Release();
            }
        });
        for (var i = 0; i < count; i++)
        {
            await readerCredit.WaitAsync().DefaultTimeout();
            lastSeqOf[ids[i % 3]] = await broker.PublishAsync("robots", ids[i % 3], $$$"""{"n":{{{i}}},"pad":"{{{pad}}}"}""");
        }

        await readAll.DefaultTimeout(TimeSpan.FromSeconds(60));

        // Now the stalled client reads: whatever it got queued, then the newest value per id.
        var seen = new Dictionary<string, long>();
        long previousSeq = 0;
        var frames = 0;
        while (seen.Count < 3 || ids.Any(id => seen[id] != lastSeqOf[id]))
        {
            var update = await stalled.ReceiveFrameAsync("update", TimeSpan.FromSeconds(60));
            var seq = update.GetProperty("seq").GetInt64();
            Assert.That(seq, Is.GreaterThan(previousSeq), "updates arrive in seq order");
            previousSeq = seq;
            seen[update.GetProperty("id").GetString()!] = seq;
            frames++;
        }

        Assert.That(frames, Is.LessThan(count), "the backlog was conflated, not replayed in full");
        Assert.That(stalled.Socket.State, Is.EqualTo(WebSocketState.Open));
        Assert.That(broker.Get<TopicRegistry>().TryGet("robots", out var robots), Is.True);
        Assert.That(robots!.Counters.FramesConflated, Is.GreaterThan(0));
        Assert.That(robots.Counters.SlowConsumerCloses, Is.Zero);

        // Caught up: live updates flow normally again.
        var next = await broker.PublishAsync("robots", "robot-a", "{}");
        Assert.That((await stalled.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64(), Is.EqualTo(next));
    }
}
