using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Sites;

/// <summary>The head office's side of a replication link, spoken to by the test: protocol.md "Sites and upstream replication".</summary>
public sealed class ReplicationLinkTests
{
    private static Dictionary<string, string?> HeadOffice(params (string Key, string? Value)[] more)
    {
        var settings = new Dictionary<string, string?> { ["Broker:Sites:Enabled"] = "true" };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    private static async Task<TestWebSocket> OpenLinkAsync(BrokerHost headOffice, string site, string? token = null)
    {
        var link = new TestWebSocket();
        await link.ConnectAsync(new Uri($"ws://127.0.0.1:{headOffice.HttpPort}/replicate/{site}{(token is null ? "" : "?access_token=" + token)}")).DefaultTimeout();
        return link;
    }

    private static string Update(long seq, string id, string? json) =>
        json is null
            ? $$"""{"type":"update","topic":"orders","seq":{{seq}},"id":"{{id}}","op":"delete","data":null}"""
            : $$"""{"type":"update","topic":"orders","seq":{{seq}},"id":"{{id}}","op":"upsert","data":{{json}}}""";

    private static async Task<long> ReceiveAckAsync(TestWebSocket link, long atLeast)
    {
        while (true)
        {
            var frame = await link.ReceiveFrameAsync("ack");
            if (frame.GetProperty("seq").GetInt64() >= atLeast)
            {
                return frame.GetProperty("seq").GetInt64();
            }
        }
    }

    [Test]
    public async Task Welcome_ListsEveryTopicWithTheSeqHeldForTheSite()
    {
        await using var headOffice = await BrokerHost.StartAsync(HeadOffice());
        await using var link = await OpenLinkAsync(headOffice, "site-1");

        var welcome = await link.ReceiveFrameAsync("welcome");

        Assert.That(welcome.GetProperty("site").GetString(), Is.EqualTo("site-1"));
        Assert.That(welcome.GetProperty("topics").GetProperty("orders").GetProperty("seq").GetInt64(), Is.Zero);
        Assert.That(welcome.GetProperty("topics").EnumerateObject().Count(), Is.EqualTo(headOffice.Get<TopicRegistry>().ConfiguredTopics.Count));
    }

    [Test]
    public async Task Changes_KeepTheRestaurantsSeq_AndResentOnesAreAppliedOnce()
    {
        await using var headOffice = await BrokerHost.StartAsync(HeadOffice());
        await using var screen = await headOffice.ConnectAsync("site-1/orders");
        await screen.ReceiveFrameAsync("snapshot");
        await using var link = await OpenLinkAsync(headOffice, "site-1");
        await link.ReceiveFrameAsync("welcome");

        await link.SendTextAsync(Update(1, "o1", """{"n":1}"""));
        await link.SendTextAsync(Update(2, "o2", """{"n":2}"""));
        await link.SendTextAsync(Update(1, "o1", """{"n":1}"""));
        await link.SendTextAsync(Update(2, "o2", """{"n":2}"""));
        await link.SendTextAsync(Update(3, "o1", null));
        Assert.That(await ReceiveAckAsync(link, 3), Is.EqualTo(3));

        var seen = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            seen.Add((await screen.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64());
        }

        Assert.That(seen, Is.EqualTo(new long[] { 1, 2, 3 }));
        Assert.That(headOffice.Get<TopicRegistry>().TryGet("site-1/orders", out var orders), Is.True);
        Assert.That(orders!.Counters.UpdatesIn, Is.EqualTo(3), "the resent changes were not applied again");
        using var http = headOffice.CreateHttpClient();
        var snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/site-1/orders").DefaultTimeout();
        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(3));
        Assert.That(snapshot.GetProperty("data").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "o2" }));
    }

    [Test]
    public async Task AGapInSeqs_IsRefusedWithSeqGap_AndNothingOfItIsApplied()
    {
        await using var headOffice = await BrokerHost.StartAsync(HeadOffice());
        await using var link = await OpenLinkAsync(headOffice, "site-1");
        await link.ReceiveFrameAsync("welcome");

        await link.SendTextAsync(Update(1, "o1", """{"n":1}"""));
        await link.SendTextAsync(Update(3, "o3", """{"n":3}"""));

        var error = await link.ReceiveFrameAsync("error");
        Assert.That(error.GetProperty("data").GetProperty("code").GetString(), Is.EqualTo("seq_gap"));
        var (status, _, _) = await link.ReceiveUntilCloseAsync();
        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
        Assert.That(headOffice.Get<TopicRegistry>().TryGet("site-1/orders", out var orders) && orders.Seq == 1, Is.True);
    }

    [Test]
    public async Task Snapshot_ResynchronisesTheSiteTopic_AndSubscribersGetItAsASnapshot()
    {
        await using var headOffice = await BrokerHost.StartAsync(HeadOffice());
        await using var link = await OpenLinkAsync(headOffice, "site-1");
        await link.ReceiveFrameAsync("welcome");
        await link.SendTextAsync(Update(1, "old", """{"n":1}"""));
        await ReceiveAckAsync(link, 1);
        await using var screen = await headOffice.ConnectAsync("site-1/orders");
        await screen.ReceiveFrameAsync("snapshot");

        await link.SendTextAsync("""{"type":"snapshot","topic":"orders","seq":40,"data":{"a":{"n":38},"b":{"n":40}}}""");
        Assert.That(await ReceiveAckAsync(link, 40), Is.EqualTo(40));
        await link.SendTextAsync(Update(41, "a", null));
        Assert.That(await ReceiveAckAsync(link, 41), Is.EqualTo(41));

        var resync = await screen.ReceiveFrameAsync("snapshot");
        Assert.That(resync.GetProperty("seq").GetInt64(), Is.EqualTo(40));
        Assert.That(resync.GetProperty("data").EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "a", "b" }));
        Assert.That((await screen.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64(), Is.EqualTo(41));
        await using var resumed = await headOffice.ConnectAsync("site-1/orders", "since=1");
        Assert.That((await resumed.ReceiveFrameAsync()).GetProperty("type").GetString(), Is.EqualTo("snapshot"), "history before the resync is gone");
        using var http = headOffice.CreateHttpClient();
        var snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/site-1/orders").DefaultTimeout();
        Assert.That(snapshot.GetProperty("data").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "b" }));
    }

    [Test]
    public async Task SiteScopedToken_CannotOpenAnotherSitesLink()
    {
        await using var headOffice = await BrokerHost.StartAsync(TestTokens.AuthSettings(HeadOffice()));
        var token = TestTokens.Create(subscribe: ["site-a/*"], publish: ["site-a/*"]);

        await using (var own = await OpenLinkAsync(headOffice, "site-a", token))
        {
            await own.ReceiveFrameAsync("welcome");
        }

        using var other = new ClientWebSocket();
        other.Options.CollectHttpResponseDetails = true;
        Assert.ThrowsAsync<WebSocketException>(() => other.ConnectAsync(new Uri($"ws://127.0.0.1:{headOffice.HttpPort}/replicate/site-b?access_token={token}"), CancellationToken.None).DefaultTimeout());
        Assert.That(other.HttpStatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(headOffice.Get<TopicRegistry>().Sites, Is.EqualTo(new[] { "site-a" }));
    }

    [Test]
    public async Task Link_PastMaxSites_IsRefusedWith409()
    {
        await using var headOffice = await BrokerHost.StartAsync(HeadOffice(("Broker:Sites:MaxSites", "1")));
        await using var first = await OpenLinkAsync(headOffice, "site-a");
        await first.ReceiveFrameAsync("welcome");

        using var other = new ClientWebSocket();
        other.Options.CollectHttpResponseDetails = true;
        Assert.ThrowsAsync<WebSocketException>(() => other.ConnectAsync(new Uri($"ws://127.0.0.1:{headOffice.HttpPort}/replicate/site-b"), CancellationToken.None).DefaultTimeout());
        Assert.That(other.HttpStatusCode, Is.EqualTo(HttpStatusCode.Conflict));
    }
}
