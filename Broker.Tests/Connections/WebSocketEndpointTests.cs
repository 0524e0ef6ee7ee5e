using System.Net;
using System.Net.WebSockets;
using System.Text.Json;

namespace TopicBroker.Tests.Connections;

public sealed class WebSocketEndpointTests
{
    [Test]
    public async Task Connect_FirstFrameIsSnapshotOfCurrentState()
    {
        await using var broker = await BrokerHost.StartAsync();
        await broker.PublishAsync("robots", "robot-1", """{"x":1,"battery":90}""");
        var seq = await broker.PublishAsync("robots", "robot-2", """{"x":2,"battery":80}""");

        await using var client = await broker.ConnectAsync("robots");
        var snapshot = await client.ReceiveFrameAsync();

        Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        Assert.That(snapshot.GetProperty("topic").GetString(), Is.EqualTo("robots"));
        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(seq));
        var data = snapshot.GetProperty("data");
        Assert.That(data.GetProperty("robot-1").GetProperty("battery").GetInt32(), Is.EqualTo(90));
        Assert.That(data.GetProperty("robot-2").GetProperty("x").GetInt32(), Is.EqualTo(2));
    }

    [Test]
    public async Task Publish_TwoSubscribers_BothReceiveEveryUpdateInOrderWithIncreasingSeq()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var first = await broker.ConnectAsync("orders");
        await using var second = await broker.ConnectAsync("orders");
        await first.ReceiveFrameAsync("snapshot");
        await second.ReceiveFrameAsync("snapshot");

        var seqs = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            seqs.Add(await broker.PublishAsync("orders", $"order-{i % 3}", $$"""{"n":{{i}},"status":"new"}"""));
        }

        Assert.That(seqs, Is.Ordered.Ascending.And.Unique);
        foreach (var client in new[] { first, second })
        {
            for (var i = 0; i < 20; i++)
            {
                var update = await client.ReceiveFrameAsync("update");
                Assert.That(update.GetProperty("seq").GetInt64(), Is.EqualTo(seqs[i]));
                Assert.That(update.GetProperty("id").GetString(), Is.EqualTo($"order-{i % 3}"));
                Assert.That(update.GetProperty("op").GetString(), Is.EqualTo("upsert"));
                Assert.That(update.GetProperty("data").GetProperty("n").GetInt32(), Is.EqualTo(i));
            }
        }
    }

    [Test]
    public async Task Update_DataIsSentVerbatim()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var client = await broker.ConnectAsync("events");
        await client.ReceiveFrameAsync("snapshot");
        const string data = """{ "b" : 1,"a":[true, null, 1.50e3], "s":"caf\u00e9 ☕" }""";

        await broker.PublishAsync("events", "e1", data);

        var raw = await client.ReceiveMessageAsync();
        Assert.That(raw, Does.Contain("\"data\":" + data));
    }

    [Test]
    public async Task Delete_IsBroadcastWithNullDataAndLeavesTheSnapshot()
    {
        await using var broker = await BrokerHost.StartAsync();
        await broker.PublishAsync("tables", "T1", """{"state":"free"}""");
        await using var client = await broker.ConnectAsync("tables");
        await client.ReceiveFrameAsync("snapshot");

        var seq = await broker.PublishAsync("tables", "T1", null);

        var update = await client.ReceiveFrameAsync("update");
        Assert.That(update.GetProperty("op").GetString(), Is.EqualTo("delete"));
        Assert.That(update.GetProperty("seq").GetInt64(), Is.EqualTo(seq));
        Assert.That(update.GetProperty("data").ValueKind, Is.EqualTo(JsonValueKind.Null));
        await using var late = await broker.ConnectAsync("tables");
        var snapshot = await late.ReceiveFrameAsync("snapshot");
        Assert.That(snapshot.GetProperty("data").TryGetProperty("T1", out _), Is.False);
    }

    [Test]
    public async Task UnknownTopic_IsClosedWith1003NamingTheTopic()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var client = await broker.ConnectAsync("spaceships");

        var (status, reason, messages) = await client.ReceiveUntilCloseAsync();

        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.InvalidMessageType));
        Assert.That(reason, Does.Contain("spaceships"));
        Assert.That(messages, Is.Zero);
    }

    [Test]
    public async Task TopicCap_ConnectionOverCapIsClosedWith1008_AndTheSlotFreesWhenASubscriberLeaves()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:MaxConnectionsPerTopic"] = "2" });
        var first = await broker.ConnectAsync("robots");
        await using var second = await broker.ConnectAsync("robots");
        await first.ReceiveFrameAsync("snapshot");
        await second.ReceiveFrameAsync("snapshot");

        await using (var third = await broker.ConnectAsync("robots"))
        {
            var (status, reason, _) = await third.ReceiveUntilCloseAsync();
            Assert.That(status, Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
            Assert.That(reason, Is.EqualTo("Too many connections"));
        }

        // The first subscriber leaves with a full close handshake; the broker frees the slot
        // before it answers the close, so the slot is free once CloseAsync returns.
        await first.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();
        await first.DisposeAsync();

        await using var fourth = await broker.ConnectAsync("robots");
        var snapshot = await fourth.ReceiveFrameAsync();
        Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
    }

    [Test]
    public async Task PlainHttpGet_OnWebSocketPath_Is400()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();

        var response = await http.GetAsync("/ws/robots").DefaultTimeout();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }
}
