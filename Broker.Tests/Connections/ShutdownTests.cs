using System.Net.WebSockets;

namespace TopicBroker.Tests.Connections;

public sealed class ShutdownTests
{
    [Test]
    public async Task Shutdown_SendsEveryClientAShutdownFrameThen1001()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:ShutdownReconnectSpread"] = "00:00:03",
        });
        var seq = await broker.PublishAsync("robots", "robot-1", """{"battery":50}""");
        var clients = new List<TestWebSocket>();
        foreach (var topic in new[] { "robots", "robots", "orders" })
        {
            var client = await broker.ConnectAsync(topic);
            await client.ReceiveFrameAsync("snapshot");
            clients.Add(client);
        }

        var stopping = broker.StopAsync();

        foreach (var client in clients)
        {
            var frame = await client.ReceiveFrameAsync("shutdown");
            var data = frame.GetProperty("data");
            Assert.That(data.GetProperty("reason").GetString(), Is.EqualTo("server shutting down"));
            Assert.That(data.GetProperty("reconnectAfterMs").GetInt64(), Is.InRange(0, 3000));
            var expectedResume = frame.GetProperty("topic").GetString() == "robots" ? seq : 0;
            Assert.That(data.GetProperty("resumeFrom").GetInt64(), Is.EqualTo(expectedResume));
            var (status, reason, messages) = await client.ReceiveUntilCloseAsync();
            Assert.That(status, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
            Assert.That(reason, Is.EqualTo("server shutting down"));
            Assert.That(messages, Is.Zero, "nothing follows the shutdown frame but the close");
            await client.DisposeAsync();
        }

        await stopping.DefaultTimeout();
    }

    [Test]
    public async Task DuringShutdown_NewConnectionsAreClosedWith1001()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:ShutdownTimeout"] = "00:00:30",
        });
        await using var holder = await broker.ConnectAsync("robots");
        await holder.ReceiveFrameAsync("snapshot");

        var stopping = broker.StopAsync();
        // The holder has its shutdown frame but does not answer the close yet, which keeps the
        // broker in its shutdown phase while the newcomer arrives.
        await holder.ReceiveFrameAsync("shutdown");

        await using (var newcomer = await broker.ConnectAsync("robots"))
        {
            var (status, reason, messages) = await newcomer.ReceiveUntilCloseAsync();
            Assert.That(status, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
            Assert.That(reason, Is.EqualTo("server shutting down"));
            Assert.That(messages, Is.Zero);
        }

        var (holderStatus, _, _) = await holder.ReceiveUntilCloseAsync();
        Assert.That(holderStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
        await stopping.DefaultTimeout();
    }
}
