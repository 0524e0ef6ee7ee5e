using System.Net.WebSockets;
using TopicBroker.Connections;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Connections;

public sealed class SlowConsumerTests
{
    [Test]
    public async Task SubscriberThatNeverReads_IsClosedWith1013_WhileAnotherReceivesEverything()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:SendQueueCapacity"] = "8",
            ["Broker:MaxIngestBatch"] = "4",
            // The stalled client reads only after the publishing is over; give it time to.
            ["Broker:CloseTimeout"] = "00:01:00",
        });
        await using var stalled = await broker.ConnectAsync("orders");
        await using var reader = await broker.ConnectAsync("orders");
        await reader.ReceiveFrameAsync("snapshot");

        // 32 MiB in all: more than loopback socket buffers and Kestrel's can hold for a client
        // that reads nothing, so the stalled client's 8-frame queue must overflow.
        const int count = 512;
        var payload = $$"""{"pad":"{{new string('p', 64 * 1024)}}"}""";
        // The publisher stays at most four frames ahead of the reading client, so only the
        // stalled client can ever fill its queue, however fast or slow this machine is.
        using var readerCredit = new SemaphoreSlim(4);
        var readAll = Task.Run(async () =>
        {
            var seqs = new List<long>();
            while (seqs.Count < count)
            {
                seqs.Add((await reader.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64());
                readerCredit.Release();
            }

            return seqs;
        });
        for (var i = 0; i < count; i++)
        {
            await readerCredit.WaitAsync().DefaultTimeout();
            await broker.PublishAsync("orders", "order-1", payload);
        }

        var received = await readAll.DefaultTimeout(TimeSpan.FromSeconds(60));
        Assert.That(received, Has.Count.EqualTo(count));
        Assert.That(received, Is.Ordered.Ascending.And.Unique);

        var (status, reason, messages) = await stalled.ReceiveUntilCloseAsync(TimeSpan.FromSeconds(60));
        Assert.That((int?)status, Is.EqualTo(1013));
        Assert.That(reason, Is.EqualTo("slow consumer"));
        Assert.That(messages, Is.LessThan(count + 1), "the stalled client cannot have received everything");
        Assert.That(broker.Get<ConnectionManager>().SlowConsumerCloses, Is.EqualTo(1));
        Assert.That(broker.Get<TopicRegistry>().TryGet("orders", out var topic) && topic.Counters.SlowConsumerCloses == 1, Is.True);
        Assert.That(reader.Socket.State, Is.EqualTo(WebSocketState.Open));
    }
}
