using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Serilog.Events;

namespace TopicBroker.Tests.Deploy;

/// <summary>
/// deploy/nginx/topicbroker.conf in a real nginx in front of a real broker (docs/operations.md
/// "Behind a reverse proxy"). Clients leave from their own loopback addresses and use a host
/// name of their own (kitchen.test), as screens on a restaurant's network would.
/// </summary>
public sealed class NginxProxyTests
{
    private static readonly IPAddress ScreenA = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress ScreenB = IPAddress.Parse("127.0.0.3");

    private static string SiteFile => Path.Combine(PublishedBroker.RepositoryRoot, "deploy", "nginx", "topicbroker.conf");

    private static Dictionary<string, string?> BehindNginx(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Broker:ForwardedHeaders:KnownProxies:0"] = "127.0.0.1",
            ["Broker:Auth:AllowAnonymous"] = "true",
            ["Serilog:MinimumLevel:Override:Serilog.AspNetCore"] = "Information",
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    [Test, CancelAfter(120_000)]
    public async Task ThroughNginx_SubscribePublishAndBump_ReachTheBroker_FromTheClientsAddress()
    {
        await using var broker = await BrokerHost.StartAsync(BehindNginx());
        await using var nginx = await NginxServer.StartAsync(SiteFile, broker.HttpPort);
        using var screen = new SourceAddressClient(ScreenA);
        var site = $"kitchen.test:{nginx.Port}";
        var origin = ("Origin", $"http://{site}");

        // The kitchen display's subscription, with the Origin a browser sends from a page served by nginx.
        await using var subscriber = await screen.ConnectWebSocketAsync(new Uri($"ws://{site}/ws/orders"), origin);
        Assert.That((await subscriber.ReceiveFrameAsync("snapshot")).GetProperty("seq").GetInt64(), Is.Zero);

        using var http = screen.HttpClient(new Uri($"http://{site}"));
        var publish = await http.PostAsync("/api/topics/orders/entities/o-17",
            new StringContent("""{"table":"T4","status":"new"}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        Assert.That(publish.StatusCode, Is.EqualTo(HttpStatusCode.OK), await publish.Content.ReadAsStringAsync());
        Assert.That((await subscriber.ReceiveFrameAsync("update")).GetProperty("data").GetProperty("status").GetString(), Is.EqualTo("new"));

        // The bump: kitchen.js posts the order with its next status, from the page's origin.
        using var bump = new HttpRequestMessage(HttpMethod.Post, "/api/topics/orders/entities/o-17")
        {
            Content = new StringContent("""{"table":"T4","status":"cooking"}""", Encoding.UTF8, "application/json"),
        };
        bump.Headers.Add(origin.Item1, origin.Item2);
        var bumped = await http.SendAsync(bump).DefaultTimeout();
        Assert.That(bumped.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the page's origin is the Host nginx passes on: " + await bumped.Content.ReadAsStringAsync());
        var update = await subscriber.ReceiveFrameAsync("update");
        Assert.That(update.GetProperty("data").GetProperty("status").GetString(), Is.EqualTo("cooking"));
        Assert.That(update.GetProperty("seq").GetInt64(), Is.EqualTo(2));

        // The broker saw the screen, not nginx: in its connection log and its request log.
        await broker.WaitForLogAsync(e => e.MessageTemplate.Text.StartsWith("Connection {ConnectionId} opened", StringComparison.Ordinal) && RemoteAddress(e) == "127.0.0.2");
        await broker.WaitForLogAsync(e => e.MessageTemplate.Text.StartsWith("HTTP {RequestMethod}", StringComparison.Ordinal) && RemoteAddress(e) == "127.0.0.2");
    }

    [Test, CancelAfter(120_000)]
    public async Task BehindNginx_EachClientAddressHasItsOwnConnectionSlot()
    {
        await using var broker = await BrokerHost.StartAsync(BehindNginx(("Broker:MaxConnectionsPerAddress", "1")));
        await using var nginx = await NginxServer.StartAsync(SiteFile, broker.HttpPort);
        using var screenA = new SourceAddressClient(ScreenA);
        using var screenB = new SourceAddressClient(ScreenB);
        var uri = new Uri($"ws://127.0.0.1:{nginx.Port}/ws/tables");

        await using var a = await screenA.ConnectWebSocketAsync(uri);
        await a.ReceiveFrameAsync("snapshot");
        await using var b = await screenB.ConnectWebSocketAsync(uri);
        await b.ReceiveFrameAsync("snapshot");
        Assert.That(await RemoteAddressesAsync(broker), Is.EqualTo(2), "/api/status counts the screens' addresses");

        await using var secondA = await screenA.ConnectWebSocketAsync(uri);
        var (status, reason, _) = await secondA.ReceiveUntilCloseAsync();
        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
        Assert.That(reason, Is.EqualTo("Too many connections from this address"));

        // A screen claiming another's address through nginx is still counted as itself: nginx
        // appends the address it saw, and only that last entry is believed.
        await using var spoofing = await screenB.ConnectWebSocketAsync(uri, ("X-Forwarded-For", "127.0.0.9"));
        var (spoofStatus, _, _) = await spoofing.ReceiveUntilCloseAsync();
        Assert.That(spoofStatus, Is.EqualTo(WebSocketCloseStatus.PolicyViolation), "counted as 127.0.0.3, whose slot is taken");
        using var screenC = new SourceAddressClient(IPAddress.Parse("127.0.0.9"));
        await using var third = await screenC.ConnectWebSocketAsync(uri);
        await third.ReceiveFrameAsync("snapshot");
    }

    [Test, CancelAfter(120_000)]
    public async Task WithoutKnownProxies_ForwardedForIsIgnored_AndNginxIsOneAddress()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:MaxConnectionsPerAddress"] = "1" });
        await using var nginx = await NginxServer.StartAsync(SiteFile, broker.HttpPort);
        using var screenA = new SourceAddressClient(ScreenA);
        using var screenB = new SourceAddressClient(ScreenB);
        var uri = new Uri($"ws://127.0.0.1:{nginx.Port}/ws/tables");

        await using var a = await screenA.ConnectWebSocketAsync(uri);
        await a.ReceiveFrameAsync("snapshot");
        await using var b = await screenB.ConnectWebSocketAsync(uri);
        var (status, _, _) = await b.ReceiveUntilCloseAsync();

        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.PolicyViolation), "both screens are nginx's 127.0.0.1");
    }

    [Test, CancelAfter(60_000)]
    public async Task DirectClientSpoofingForwardedFor_IsNotBelieved()
    {
        await using var broker = await BrokerHost.StartAsync(BehindNginx(("Broker:MaxConnectionsPerAddress", "1")));
        using var direct = new SourceAddressClient(ScreenB);
        var uri = broker.WebSocketUri("tables");

        await using var first = await direct.ConnectWebSocketAsync(uri, ("X-Forwarded-For", "10.1.1.1"));
        await first.ReceiveFrameAsync("snapshot");
        await using var second = await direct.ConnectWebSocketAsync(uri, ("X-Forwarded-For", "10.2.2.2"));
        var (status, _, _) = await second.ReceiveUntilCloseAsync();

        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.PolicyViolation), "both count as 127.0.0.3: it is not a known proxy");
        Assert.That(await RemoteAddressesAsync(broker), Is.EqualTo(1));
        await broker.WaitForLogAsync(e => e.MessageTemplate.Text.StartsWith("Connection {ConnectionId} opened", StringComparison.Ordinal) && RemoteAddress(e) == "127.0.0.3");
    }

    [TestCase("KnownProxies", "nginx", "Broker:ForwardedHeaders:KnownProxies:0 'nginx' is not an IP address")]
    [TestCase("KnownNetworks", "10.0.0.0", "Broker:ForwardedHeaders:KnownNetworks:0 '10.0.0.0' is not a network")]
    public void BadProxyEntry_StopsStartupNamingTheKey(string list, string value, string expected)
    {
        var ex = Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => BrokerHost.StartAsync(
            new Dictionary<string, string?> { [$"Broker:ForwardedHeaders:{list}:0"] = value, ["Broker:Auth:AllowAnonymous"] = "true" }));

        Assert.That(ex!.Message, Does.Contain(expected));
    }

    [Test]
    public void KnownProxiesWithoutAuthentication_StopsStartupUnlessAnonymousOnPurpose()
    {
        var ex = Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => BrokerHost.StartAsync(
            new Dictionary<string, string?> { ["Broker:ForwardedHeaders:KnownProxies:0"] = "127.0.0.1" }));

        Assert.That(ex!.Message, Does.Contain("the proxies of Broker:ForwardedHeaders").And.Contain("Broker:Auth:AllowAnonymous"));
    }

    private static async Task<int> RemoteAddressesAsync(BrokerHost broker)
    {
        using var http = broker.CreateHttpClient();
        var status = await http.GetFromJsonAsync<JsonElement>("/api/status").DefaultTimeout();
        return status.GetProperty("totals").GetProperty("remoteAddresses").GetInt32();
    }

    private static string? RemoteAddress(LogEvent e) =>
        e.Properties.TryGetValue("RemoteAddress", out var value) ? value.ToString().Trim('"') : null;
}
