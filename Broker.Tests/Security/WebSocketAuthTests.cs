using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace TopicBroker.Tests.Security;

public sealed class WebSocketAuthTests
{
    private static async Task<HttpStatusCode> HandshakeStatusAsync(BrokerHost broker, string topic, string? token = null, Action<ClientWebSocketOptions>? configure = null)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        var query = token is null ? null : "access_token=" + token;
        try
        {
            await socket.ConnectAsync(broker.WebSocketUri(topic, query), CancellationToken.None).DefaultTimeout();
            return HttpStatusCode.SwitchingProtocols;
        }
        catch (WebSocketException)
        {
            return socket.HttpStatusCode;
        }
    }

    [Test]
    public async Task MissingToken_IsRefusedWith401BeforeTheUpgrade()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());

        Assert.That(await HandshakeStatusAsync(broker, "robots"), Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [TestCase("expired")]
    [TestCase("wrong key")]
    [TestCase("not yet valid")]
    [TestCase("garbage")]
    public async Task BadToken_IsRefusedWith401(string kind)
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());
        var token = kind switch
        {
            "expired" => TestTokens.Create(["*"], expiresIn: TimeSpan.FromMinutes(-1)),
            "wrong key" => TestTokens.Create(["*"], key: TestTokens.OtherKey),
            "not yet valid" => TestTokens.Create(["*"], notBeforeIn: TimeSpan.FromMinutes(10), expiresIn: TimeSpan.FromHours(1)),
            _ => "not.a.jwt",
        };

        Assert.That(await HandshakeStatusAsync(broker, "robots", token), Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task TokenForOtherTopics_IsRefusedWith403()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());

        Assert.That(await HandshakeStatusAsync(broker, "orders", TestTokens.Create(["robots", "tab*"])), Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task ValidToken_InQueryOrHeader_WithExactOrWildcardTopic_Subscribes()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());

        await using var byQuery = await broker.ConnectAsync("tables", "access_token=" + TestTokens.Create(["tab*"]));
        Assert.That((await byQuery.ReceiveFrameAsync()).GetProperty("type").GetString(), Is.EqualTo("snapshot"));

        await using var byHeader = new TestWebSocket();
        byHeader.Socket.Options.SetRequestHeader("Authorization", "Bearer " + TestTokens.Create(["robots"]));
        await byHeader.ConnectAsync(broker.WebSocketUri("robots")).DefaultTimeout();
        Assert.That((await byHeader.ReceiveFrameAsync()).GetProperty("type").GetString(), Is.EqualTo("snapshot"));
    }

    /// <summary>
    /// The broker's clock is fake and the test moves it: a ping every second of it (one per
    /// heartbeat tick) shows each tick has run, and the pong timeout is out of the way.
    /// </summary>
    private static Task<BrokerHost> StartWithClockAsync(FakeTimeProvider clock) =>
        BrokerHost.StartAsync(
            TestTokens.AuthSettings(new() { ["Broker:PingInterval"] = "00:00:01", ["Broker:PongTimeout"] = "00:10:00" }),
            services: s => s.AddSingleton<TimeProvider>(clock));

    /// <summary>Moves the clock and waits for the heartbeat's ping stamped with the new time.</summary>
    private static async Task AdvanceAndReceivePingAsync(FakeTimeProvider clock, TestWebSocket client, TimeSpan delta)
    {
        clock.Advance(delta);
        var ping = await client.ReceiveFrameAsync("ping");
        Assert.That(ping.GetProperty("data").GetProperty("timestamp").GetInt64(), Is.EqualTo(clock.GetUtcNow().ToUnixTimeMilliseconds()));
    }

    [Test]
    public async Task TokenExpiringWhileConnected_ClosesTheSocketWith4401()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await StartWithClockAsync(clock);
        // exp is in whole seconds: it falls more than 59 s and at most 60 s after the clock's start.
        await using var client = await broker.ConnectAsync("robots", "access_token=" + TestTokens.Create(["robots"], expiresIn: TimeSpan.FromSeconds(60), now: clock.GetUtcNow()));
        await client.ReceiveFrameAsync("snapshot");

        // The ping of the next tick shows the tick at 58 s left the socket open (a close comes first).
        await AdvanceAndReceivePingAsync(clock, client, TimeSpan.FromSeconds(58));
        await AdvanceAndReceivePingAsync(clock, client, TimeSpan.FromSeconds(1));
        clock.Advance(TimeSpan.FromSeconds(2));

        var (status, reason, _) = await client.ReceiveUntilCloseAsync();
        Assert.That((int?)status, Is.EqualTo(4401));
        Assert.That(reason, Is.EqualTo("token expired"));
    }

    [Test]
    public async Task AuthMessage_RefreshesTheTokenInPlace_AndTheSocketOutlivesTheOldExpiry()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await StartWithClockAsync(clock);
        await using var client = await broker.ConnectAsync("robots", "access_token=" + TestTokens.Create(["robots"], expiresIn: TimeSpan.FromSeconds(60), now: clock.GetUtcNow()));
        await client.ReceiveFrameAsync("snapshot");

        await client.SendTextAsync($$$"""{"type":"auth","data":{"token":"{{{TestTokens.Create(["robots"], expiresIn: TimeSpan.FromHours(1))}}}"}}""");

        var answer = await client.ReceiveFrameAsync("auth");
        Assert.That(answer.GetProperty("data").GetProperty("ok").GetBoolean(), Is.True);
        Assert.That(answer.GetProperty("data").GetProperty("expiresAt").GetInt64(), Is.GreaterThan(clock.GetUtcNow().AddMinutes(30).ToUnixTimeMilliseconds()));
        // A minute past the old expiry, and one more tick: had the tick at 2 min closed the
        // socket, the close would come before the second ping.
        await AdvanceAndReceivePingAsync(clock, client, TimeSpan.FromMinutes(2));
        await AdvanceAndReceivePingAsync(clock, client, TimeSpan.FromSeconds(1));

        Assert.That(client.Socket.State, Is.EqualTo(WebSocketState.Open));
    }

    [TestCase("wrong topic", "forbidden")]
    [TestCase("expired", "invalid_token")]
    [TestCase("missing", "invalid_token")]
    public async Task BadRefresh_IsAnsweredWithError_AndTheOldTokenStays(string kind, string code)
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());
        await using var client = await broker.ConnectAsync("robots", "access_token=" + TestTokens.Create(["robots"]));
        await client.ReceiveFrameAsync("snapshot");
        var data = kind switch
        {
            "wrong topic" => $$"""{"token":"{{TestTokens.Create(["orders"])}}"}""",
            "expired" => $$"""{"token":"{{TestTokens.Create(["robots"], expiresIn: TimeSpan.FromMinutes(-1))}}"}""",
            _ => "{}",
        };

        await client.SendTextAsync($$$"""{"type":"auth","data":{{{data}}}}""");

        Assert.That((await client.ReceiveFrameAsync("error")).GetProperty("data").GetProperty("code").GetString(), Is.EqualTo(code));
        var seq = await broker.PublishAsync("robots", "r1", "{}");
        Assert.That((await client.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64(), Is.EqualTo(seq));
    }
}
