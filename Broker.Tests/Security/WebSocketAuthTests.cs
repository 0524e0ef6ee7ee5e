using System.Net;
using System.Net.WebSockets;

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

    [Test]
    public async Task TokenExpiringWhileConnected_ClosesTheSocketWith4401()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());
        await using var client = await broker.ConnectAsync("robots", "access_token=" + TestTokens.Create(["robots"], expiresIn: TimeSpan.FromSeconds(2)));

        var (status, reason, _) = await client.ReceiveUntilCloseAsync();

        Assert.That((int?)status, Is.EqualTo(4401));
        Assert.That(reason, Is.EqualTo("token expired"));
    }

    [Test]
    public async Task AuthMessage_RefreshesTheTokenInPlace_AndTheSocketOutlivesTheOldExpiry()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings(new() { ["Broker:PingInterval"] = "00:00:00.100", ["Broker:PongTimeout"] = "00:01:00" }));
        var oldExpiry = DateTimeOffset.UtcNow.AddSeconds(2);
        await using var client = await broker.ConnectAsync("robots", "access_token=" + TestTokens.Create(["robots"], expiresIn: TimeSpan.FromSeconds(2)));
        await client.ReceiveFrameAsync("snapshot");

        await client.SendTextAsync($$$"""{"type":"auth","data":{"token":"{{{TestTokens.Create(["robots"], expiresIn: TimeSpan.FromHours(1))}}}"}}""");

        var answer = await client.ReceiveFrameAsync("auth");
        Assert.That(answer.GetProperty("data").GetProperty("ok").GetBoolean(), Is.True);
        Assert.That(answer.GetProperty("data").GetProperty("expiresAt").GetInt64(), Is.GreaterThan(DateTimeOffset.UtcNow.AddMinutes(30).ToUnixTimeMilliseconds()));
        // Pings stamped a second past the old expiry prove the socket outlived it.
        while (true)
        {
            var ping = await client.ReceiveFrameAsync("ping");
            if (ping.GetProperty("data").GetProperty("timestamp").GetInt64() > oldExpiry.AddSeconds(1).ToUnixTimeMilliseconds())
            {
                break;
            }
        }

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
