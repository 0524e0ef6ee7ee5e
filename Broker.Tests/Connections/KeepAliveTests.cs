using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

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
        // The broker's clock is fake: the test moves it past the default 45 s instead of waiting.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await BrokerHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await using var client = await broker.ConnectAsync("status");
        await client.ReceiveFrameAsync("snapshot");

        clock.Advance(TimeSpan.FromSeconds(46));

        // The client reads (so it sees the close) but never answers.
        var (status, reason, _) = await client.ReceiveUntilCloseAsync();
        Assert.That((int?)status, Is.EqualTo(4408));
        Assert.That(reason, Is.EqualTo("pong timeout"));
        Assert.That(broker.Get<TopicBroker.Connections.ConnectionManager>().Connections.All(c => c.IsClosing), Is.True);
    }

    [Test]
    public async Task ClientThatAnswersPings_StaysConnectedPastThePongTimeout()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await BrokerHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await using var client = await broker.ConnectAsync("status");
        await client.ReceiveFrameAsync("snapshot");

        // Six pings of the default 15 s interval: 90 s, twice the 45 s pong timeout. After each
        // pong a ping of our own, answered in order, shows that the broker has read the pong
        // before the clock moves on.
        for (var i = 0; i < 6; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(15));
            var ping = await client.ReceiveFrameAsync("ping");
            Assert.That(ping.GetProperty("data").GetProperty("timestamp").GetInt64(), Is.EqualTo(clock.GetUtcNow().ToUnixTimeMilliseconds()));
            await client.SendTextAsync($$"""{"type":"pong","data":{{ping.GetProperty("data").GetRawText()}}}""");
            await client.SendTextAsync($$"""{"type":"ping","data":{{i}}}""");
            Assert.That((await client.ReceiveFrameAsync("pong")).GetProperty("data").GetInt32(), Is.EqualTo(i));
        }

        Assert.That(client.Socket.State, Is.EqualTo(WebSocketState.Open));
        Assert.That(client.CloseStatus, Is.Null);
    }
}
