using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using TopicBroker.Hosting;

namespace TopicBroker.Tests.Security;

public sealed class OriginAndLimitTests
{
    private static async Task<HttpStatusCode> HandshakeWithOriginAsync(BrokerHost broker, string? origin)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        try
        {
            await socket.ConnectAsync(broker.WebSocketUri("robots"), CancellationToken.None).DefaultTimeout();
            return HttpStatusCode.SwitchingProtocols;
        }
        catch (WebSocketException)
        {
            return socket.HttpStatusCode;
        }
    }

    [Test]
    public async Task ForeignOrigin_IsRefusedWith403_WhileOwnLocalhostConfiguredAndAbsentOriginsConnect()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:AllowedOrigins:0"] = "https://kitchen.example" });

        Assert.That(await HandshakeWithOriginAsync(broker, "https://evil.example"), Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await HandshakeWithOriginAsync(broker, "null"), Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await HandshakeWithOriginAsync(broker, "https://kitchen.example"), Is.EqualTo(HttpStatusCode.SwitchingProtocols));
        Assert.That(await HandshakeWithOriginAsync(broker, "http://localhost:8080"), Is.EqualTo(HttpStatusCode.SwitchingProtocols));
        Assert.That(await HandshakeWithOriginAsync(broker, $"http://127.0.0.1:{broker.HttpPort}"), Is.EqualTo(HttpStatusCode.SwitchingProtocols));
        Assert.That(await HandshakeWithOriginAsync(broker, null), Is.EqualTo(HttpStatusCode.SwitchingProtocols));
    }

    [Test]
    public async Task HttpApi_RefusesForeignOrigins_AndBodiesThatAreNotDeclaredJson()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();

        using var foreign = new HttpRequestMessage(HttpMethod.Post, "/api/topics/orders/entities/x") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        foreign.Headers.Add("Origin", "https://evil.example");
        var fromForeignPage = await http.SendAsync(foreign).DefaultTimeout();
        var asPlainText = await http.PostAsync("/api/topics/orders/entities/x", new StringContent("{}", Encoding.UTF8, "text/plain")).DefaultTimeout();
        using var own = new HttpRequestMessage(HttpMethod.Post, "/api/topics/orders/entities/x") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        own.Headers.Add("Origin", $"http://127.0.0.1:{broker.HttpPort}");
        var fromOwnPage = await http.SendAsync(own).DefaultTimeout();

        Assert.That(fromForeignPage.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(asPlainText.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        Assert.That(fromOwnPage.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(broker.Get<TopicBroker.Topics.TopicRegistry>().TryGet("orders", out var orders) && orders.Seq == 1, Is.True, "only the own page's publish was stored");
    }

    [Test]
    public async Task UnknownTopicWithALongNonAsciiName_IsStillClosedWith1003()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var client = await broker.ConnectAsync(Uri.EscapeDataString(new string('€', 60)));

        var (status, reason, _) = await client.ReceiveUntilCloseAsync();

        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.InvalidMessageType));
        Assert.That(reason, Does.StartWith("Unknown topic"));
    }

    [Test]
    public async Task FloodingClient_IsClosedWith1008_AndOthersGoOn()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:ClientMessagesPerSecond"] = "5" });
        await using var bystander = await broker.ConnectAsync("events");
        await using var flooder = await broker.ConnectAsync("events");
        await bystander.ReceiveFrameAsync("snapshot");
        await flooder.ReceiveFrameAsync("snapshot");

        // A burst of 50 is far over the bucket of 10 (twice the rate) whatever the timing.
        var burst = string.Concat(Enumerable.Repeat("""{"type":"ping","data":1}""" + "\u0001", 50)).Split('\u0001', StringSplitOptions.RemoveEmptyEntries);
        foreach (var message in burst)
        {
            try
            {
                await flooder.SendTextAsync(message);
            }
            catch (WebSocketException)
            {
                break;
            }
        }

        var (status, reason, _) = await flooder.ReceiveUntilCloseAsync();
        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
        Assert.That(reason, Is.EqualTo("rate limit exceeded"));
        var seq = await broker.PublishAsync("events", "e", "{}");
        Assert.That((await bystander.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64(), Is.EqualTo(seq));
    }

    [TestCase("Broker:MaxConnections", "Too many connections")]
    [TestCase("Broker:MaxConnectionsPerAddress", "Too many connections from this address")]
    public async Task ConnectionOverTotalOrPerAddressCap_IsClosedWith1008(string key, string reason)
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { [key] = "2" });
        await using var first = await broker.ConnectAsync("robots");
        await using var second = await broker.ConnectAsync("orders");
        await first.ReceiveFrameAsync("snapshot");
        await second.ReceiveFrameAsync("snapshot");

        await using var third = await broker.ConnectAsync("tables");
        var (status, actualReason, _) = await third.ReceiveUntilCloseAsync();

        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
        Assert.That(actualReason, Is.EqualTo(reason));
    }

    [Test]
    public async Task BridgeOverMaxConnections_IsAnsweredTooManyConnectionsAndClosed()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:TcpBridge:MaxConnections"] = "1" });
        await using var first = await broker.ConnectBridgeAsync();
        Assert.That(await first.PublishAsync("""{"topic":"robots","id":"r","data":{}}"""), Is.EqualTo(1));

        await using var second = await broker.ConnectBridgeAsync();

        Assert.That((await second.ReadAnswerAsync())!.Value.GetProperty("error").GetString(), Is.EqualTo("too_many_connections"));
        Assert.That(await second.ReadAnswerAsync(), Is.Null);
        Assert.That(await first.PublishAsync("""{"topic":"robots","id":"r","data":{}}"""), Is.EqualTo(2));
    }

    [Test]
    public async Task EntityCap_RefusesNewIds_ButNotUpdatesOrIdsFreedByDelete()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:MaxEntitiesPerTopic"] = "3" });
        await using var bridge = await broker.ConnectBridgeAsync();
        for (var i = 1; i <= 3; i++)
        {
            await bridge.PublishAsync($$$"""{"topic":"orders","id":"o{{{i}}}","data":{}}""");
        }

        await bridge.SendLineAsync("""{"topic":"orders","id":"o4","data":{}}""");
        Assert.That((await bridge.ReadAnswerAsync())!.Value.GetProperty("error").GetString(), Is.EqualTo("too_many_entities"));
        Assert.That(await bridge.PublishAsync("""{"topic":"orders","id":"o1","data":{"again":true}}"""), Is.EqualTo(4));
        Assert.That(await bridge.PublishAsync("""{"topic":"orders","id":"o2","op":"delete"}"""), Is.EqualTo(5));
        Assert.That(await bridge.PublishAsync("""{"topic":"orders","id":"o4","data":{}}"""), Is.EqualTo(6));
    }

    [Test]
    public async Task SilentBridgeConnection_IsClosedAfterIdleTimeout()
    {
        // The broker's clock is fake: the test moves it through the default 2-minute IdleTimeout.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await BrokerHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var idleTimeout = broker.Get<IOptions<BrokerOptions>>().Value.TcpBridge.IdleTimeout;
        await using var bridge = await broker.ConnectBridgeAsync();
        await bridge.PublishAsync("""{"topic":"orders","id":"o1","data":{}}""");

        // Idle time counts from the last line that arrived: each line buys another IdleTimeout.
        for (var seq = 2; seq <= 3; seq++)
        {
            clock.Advance(idleTimeout - TimeSpan.FromSeconds(1));
            Assert.That(await bridge.PublishAsync($$$"""{"topic":"orders","id":"o{{{seq}}}","data":{}}"""), Is.EqualTo(seq), "open just short of IdleTimeout");
        }

        clock.Advance(idleTimeout);

        Assert.That(await bridge.ReadAnswerAsync(), Is.Null);
        await broker.WaitForLogAsync(e => e.RenderMessage().Contains("idle timeout", StringComparison.Ordinal));
    }

    [Test]
    public async Task BridgeClientThatNeverReadsAnswers_IsGivenUpOn_AndTheBridgeGoesOn()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:TcpBridge:IdleTimeout"] = "00:00:01" });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(broker.BridgeEndPoint).DefaultTimeout();
        var stream = tcp.GetStream();
        var line = Encoding.UTF8.GetBytes("{\"topic\":\"events\",\"id\":\"e\",\"data\":{\"pad\":\"" + new string('p', 200) + "\"}}\n");
        var chunk = Enumerable.Repeat(line, 1000).SelectMany(b => b).ToArray();

        // Lines keep coming and no answer is ever read: the answers back up, and once none has
        // been taken for IdleTimeout the broker gives the connection up instead of waiting forever.
        var gaveUp = broker.WaitForLogAsync(e => e.RenderMessage().Contains("took no answers", StringComparison.Ordinal));
        while (!gaveUp.IsCompleted)
        {
            try
            {
                await stream.WriteAsync(chunk).AsTask().DefaultTimeout();
            }
            catch (IOException)
            {
                break;
            }
        }

        await gaveUp;
        await using (var next = await broker.ConnectBridgeAsync())
        {
            Assert.That(await next.PublishAsync("""{"topic":"events","id":"after","data":{}}"""), Is.GreaterThan(0));
        }

        await broker.StopAsync();
    }

    [Test]
    public async Task UnauthenticatedBridgeConnection_IsClosedAfterHandshakeTimeout_EvenIfItSendsKeepAlives()
    {
        // The broker's clock is fake: the test moves it through a HandshakeTimeout longer than
        // any wait of the test, so only that clock can end the connection in time.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await BrokerHost.StartAsync(
            TestTokens.AuthSettings(new() { ["Broker:HandshakeTimeout"] = "00:01:00" }),
            services: s => s.AddSingleton<TimeProvider>(clock));
        var handshakeTimeout = broker.Get<IOptions<BrokerOptions>>().Value.HandshakeTimeout;
        // The connection is opened (its deadline set) before the clock moves.
        var opened = broker.WaitForLogAsync(e => e.RenderMessage().Contains("opened from", StringComparison.Ordinal));
        await using var bridge = await broker.ConnectBridgeAsync();
        await opened;

        // Blank lines are keep-alives that re-arm the 2-minute idle timeout of an authenticated
        // connection; they must not buy an unauthenticated one more than HandshakeTimeout. Each is
        // read by the broker (its Debug log) before the clock moves on, so each arrives at its own
        // time: at 0, 1/4, 2/4 and 3/4 of HandshakeTimeout. Were the last to re-arm the deadline,
        // it would hold to 7/4; the clock then moves just past 4/4, where it must close.
        for (var i = 1; i <= 4; i++)
        {
            var logged = broker.LogEvents.Count;
            await bridge.SendLineAsync("");
            await broker.WaitForLogAsync(e => e.MessageTemplate.Text.EndsWith(": keep-alive (a blank line)", StringComparison.Ordinal), logged);
            clock.Advance(i < 4 ? handshakeTimeout / 4 : handshakeTimeout / 4 + TimeSpan.FromTicks(1));
        }

        JsonElement? answer;
        try
        {
            answer = await bridge.ReadAnswerAsync();
        }
        catch (TimeoutException)
        {
            Assert.Fail("the connection is still open past HandshakeTimeout: keep-alives extended the auth deadline");
            throw;
        }

        Assert.That(answer, Is.Null, "closed without an answer");
        await broker.WaitForLogAsync(e => e.RenderMessage().Contains("no valid auth line in time", StringComparison.Ordinal));
    }

    [Test]
    public async Task StalledHandshake_IsDroppedAfterHandshakeTimeout()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:HandshakeTimeout"] = "00:00:01" });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, broker.HttpPort).DefaultTimeout();
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /ws/robots HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")).AsTask().DefaultTimeout();

        // Kestrel may answer 408 before closing; either way the connection ends.
        var buffer = new byte[4096];
        while (await stream.ReadAsync(buffer).AsTask().DefaultTimeout() > 0)
        {
        }

        Assert.That(tcp.Client.Poll(0, SelectMode.SelectRead), Is.True);
    }

    [Test]
    public async Task ClientVanishingWithoutClose_IsCleanedUp_AndFreesItsSlot()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:MaxConnectionsPerTopic"] = "1" });
        var vanishing = await broker.ConnectAsync("robots");
        await vanishing.ReceiveFrameAsync("snapshot");

        vanishing.Socket.Abort();
        vanishing.Socket.Dispose();
        await broker.WaitForLogAsync(e => e.MessageTemplate.Text.StartsWith("Connection {ConnectionId} on {Topic} removed", StringComparison.Ordinal));

        await using var next = await broker.ConnectAsync("robots");
        Assert.That((await next.ReceiveFrameAsync()).GetProperty("type").GetString(), Is.EqualTo("snapshot"));
    }

    [TestCase("Urls", "http://0.0.0.0:0")]
    [TestCase("Urls", "http://*:0")]
    [TestCase("http_ports", "0")]
    public void OpenBroker_OnANonLoopbackAddress_RefusesToStart(string key, string value)
    {
        var settings = new Dictionary<string, string?> { [key] = value };
        if (key != "Urls")
        {
            settings["Urls"] = "";
        }

        var ex = Assert.ThrowsAsync<OptionsValidationException>(() => BrokerHost.StartAsync(settings));

        Assert.That(ex!.Message, Does.Contain("Broker:Auth:SigningKey").And.Contain("AllowAnonymous"));
    }

    [Test]
    public async Task OpenBroker_OnANonLoopbackAddress_StartsWhenAllowedExplicitly_AndWarns()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Urls"] = "http://0.0.0.0:0", ["Broker:Auth:AllowAnonymous"] = "true" });

        await broker.WaitForLogAsync(e => e.RenderMessage().Contains("No Broker:Auth:SigningKey is set", StringComparison.Ordinal));
    }
}
