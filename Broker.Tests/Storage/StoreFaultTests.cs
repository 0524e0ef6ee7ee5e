using System.Net.WebSockets;

namespace TopicBroker.Tests.Storage;

public sealed class StoreFaultTests
{
    [Test]
    public async Task UnwritableDatabase_IngestAnswersUnavailable_ClientsStayServed_AndItRecoversByItself()
    {
        await using var broker = await BrokerHost.StartAsync();
        broker.AllowErrorLogs = true; // the broker logs the failed commit at Error, as it should
        await using var bridge = await broker.ConnectBridgeAsync();
        var acked = await bridge.PublishAsync("""{"topic":"orders","id":"o1","data":{"status":"new"}}""");
        await using var subscriber = await broker.ConnectAsync("orders");
        await subscriber.ReceiveFrameAsync("snapshot");

        using (UnwritableDatabase.Apply(broker.DatabasePath))
        {
            await bridge.SendLineAsync("""{"topic":"orders","id":"o2","data":{"status":"new"}}""");
            var answer = (await bridge.ReadAnswerAsync())!.Value;
            Assert.That(answer.GetProperty("ok").GetBoolean(), Is.False);
            Assert.That(answer.GetProperty("error").GetString(), Is.EqualTo("unavailable"));
            Assert.That(broker.Get<TopicBroker.Ingest.IngestPipeline>().IsStoreHealthy, Is.False);

            // Subscribers keep what is in memory: a newcomer still gets the committed state.
            await using var newcomer = await broker.ConnectAsync("orders");
            var snapshot = await newcomer.ReceiveFrameAsync("snapshot");
            Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(acked));
            Assert.That(snapshot.GetProperty("data").TryGetProperty("o2", out _), Is.False, "nothing unacked is shown");
            Assert.That(subscriber.Socket.State, Is.EqualTo(WebSocketState.Open));
        }

        // The fault cleared: the next publish commits, with the next seq (the failed one took none).
        Assert.That(await bridge.PublishAsync("""{"topic":"orders","id":"o2","data":{"status":"new"}}"""), Is.EqualTo(acked + 1));
        Assert.That(broker.Get<TopicBroker.Ingest.IngestPipeline>().IsStoreHealthy, Is.True);
        Assert.That((await subscriber.ReceiveFrameAsync("update")).GetProperty("id").GetString(), Is.EqualTo("o2"));
    }
}
