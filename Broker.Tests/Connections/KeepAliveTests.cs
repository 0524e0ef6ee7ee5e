using System.Net.WebSockets;

namespace TopicBroker.Tests.Connections;

public sealed class KeepAliveTests
{
    [Test]
    public async Task Server_PingsEveryInterval_WithUnixMillisecondTimestamp()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:PingInterval"] = "00:00:00.100",
            ["Broker:PongTimeout"] = "00:01:00",
        });
        await using var client = await broker.ConnectAsync("status");
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var ping = await client.ReceiveFrameAsync("ping");

        Assert.That(ping.GetProperty("topic").GetString(), Is.EqualTo("status"));
        var timestamp = ping.GetProperty("data").GetProperty("timestamp").GetInt64();
        Assert.That(timestamp, Is.InRange(before - 60_000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1000));
    }

    [Test]
    public async Task ClientPing_IsAnsweredWithPongEchoingData()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var client = await broker.ConnectAsync("status");
        await client.ReceiveFrameAsync("snapshot");

        await client.SendTextAsync("""{"type":"ping","data":{"nonce":"abc-123","t":42}}""");

        var pong = await client.ReceiveFrameAsync("pong");
        Assert.That(pong.GetProperty("topic").GetString(), Is.EqualTo("status"));
        Assert.That(pong.GetProperty("data").GetProperty("nonce").GetString(), Is.EqualTo("abc-123"));
        Assert.That(pong.GetProperty("data").GetProperty("t").GetInt32(), Is.EqualTo(42));
    }

    [Test]
    public async Task SilentClient_IsClosedWith4408AfterPongTimeout()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:PingInterval"] = "00:00:00.100",
            ["Broker:PongTimeout"] = "00:00:00.500",
        });
        await using var client = await broker.ConnectAsync("status");

        // The client reads (so it sees the pings and the close) but never answers.
        var (status, reason, messages) = await client.ReceiveUntilCloseAsync();

        Assert.That((int?)status, Is.EqualTo(4408));
        Assert.That(reason, Is.EqualTo("pong timeout"));
        Assert.That(messages, Is.GreaterThanOrEqualTo(1), "the snapshot, then pings");
        Assert.That(broker.Get<TopicBroker.Connections.ConnectionManager>().Connections.All(c => c.IsClosing), Is.True);
    }

    [Test]
    public async Task ClientThatAnswersPings_StaysConnectedPastThePongTimeout()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:PingInterval"] = "00:00:00.100",
            ["Broker:PongTimeout"] = "00:00:02",
        });
        await using var client = await broker.ConnectAsync("status");
        await client.ReceiveFrameAsync("snapshot");

        // Answer 30 pings: at least 3 s, past the 2 s timeout. Only a client stalled for 2 s
        // between two pongs could be closed, so a busy machine does not make this fail.
        for (var i = 0; i < 30; i++)
        {
            var ping = await client.ReceiveFrameAsync("ping");
            await client.SendTextAsync($$"""{"type":"pong","data":{{ping.GetProperty("data").GetRawText()}}}""");
        }

        Assert.That(client.Socket.State, Is.EqualTo(WebSocketState.Open));
        Assert.That(client.CloseStatus, Is.Null);
    }
}
