using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using TopicBroker.Ingest;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Sites;

/// <summary>Site-scoped topics on a head-office broker: protocol.md "Sites and upstream replication".</summary>
public sealed class SiteTopicTests
{
    private static readonly Dictionary<string, string?> SitesOn = new() { ["Broker:Sites:Enabled"] = "true" };

    private static Dictionary<string, string?> With(Dictionary<string, string?> settings, params (string Key, string? Value)[] more)
    {
        var all = new Dictionary<string, string?>(settings);
        foreach (var (key, value) in more)
        {
            all[key] = value;
        }

        return all;
    }

    /// <summary>Writes a site topic as a replication link does, through the pipeline (seq assigned by the broker here).</summary>
    private static async Task<long> WriteSiteTopicAsync(BrokerHost broker, string topic, string id, string json)
    {
        Assert.That(broker.Get<TopicRegistry>().TryResolve(topic, out var state), Is.EqualTo(TopicLookup.Found), topic);
        var result = await broker.Get<IngestPipeline>().PublishAsync(new InboundChange(state!, id, Encoding.UTF8.GetBytes(json)), CancellationToken.None).DefaultTimeout();
        Assert.That(result.Ok, Is.True, result.Message);
        return result.Seq;
    }

    [Test]
    public async Task Subscribe_SiteWithNoDataYet_GetsEmptySnapshotAndStaysSubscribed()
    {
        await using var broker = await BrokerHost.StartAsync(SitesOn);
        await using var screen = await broker.ConnectAsync("site-12/robots");

        var snapshot = await screen.ReceiveFrameAsync("snapshot");
        Assert.That(snapshot.GetProperty("topic").GetString(), Is.EqualTo("site-12/robots"));
        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.Zero);
        Assert.That(snapshot.GetProperty("data").EnumerateObject(), Is.Empty);

        await WriteSiteTopicAsync(broker, "site-12/robots", "r1", """{"x":1}""");
        var update = await screen.ReceiveFrameAsync("update");
        Assert.That(update.GetProperty("topic").GetString(), Is.EqualTo("site-12/robots"));
        Assert.That(update.GetProperty("seq").GetInt64(), Is.EqualTo(1));
        Assert.That(update.GetProperty("data").GetProperty("x").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task Subscribe_WithTheSlashPercentEncoded_IsTheSameSiteTopic()
    {
        // Clients that build the URL with encodeURIComponent(topic) send site-12%2Frobots.
        await using var broker = await BrokerHost.StartAsync(SitesOn);
        await using var screen = new TestWebSocket();
        await screen.ConnectAsync(new Uri($"ws://127.0.0.1:{broker.HttpPort}/ws/site-12%2Frobots")).DefaultTimeout();

        var snapshot = await screen.ReceiveFrameAsync("snapshot");

        Assert.That(snapshot.GetProperty("topic").GetString(), Is.EqualTo("site-12/robots"));
    }

    [Test]
    public async Task SiteTopic_HasItsOwnSeqHistoryAndResume()
    {
        await using var broker = await BrokerHost.StartAsync(SitesOn);
        await broker.PublishAsync("robots", "hq", """{"x":0}""");
        await broker.PublishAsync("robots", "hq", """{"x":0}""");
        for (var i = 1; i <= 3; i++)
        {
            Assert.That(await WriteSiteTopicAsync(broker, "site-1/robots", "r1", $$"""{"x":{{i}}}"""), Is.EqualTo(i));
        }

        Assert.That(await WriteSiteTopicAsync(broker, "site-2/robots", "r1", """{"x":9}"""), Is.EqualTo(1), "each site topic counts on its own");

        await using var resumed = await broker.ConnectAsync("site-1/robots", "since=1");
        var replay = await resumed.ReceiveFrameAsync();
        Assert.That(replay.GetProperty("type").GetString(), Is.EqualTo("update"), "resumed from the site topic's history");
        Assert.That(replay.GetProperty("seq").GetInt64(), Is.EqualTo(2));

        using var http = broker.CreateHttpClient();
        var snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/site-1/robots").DefaultTimeout();
        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(3));
        Assert.That(snapshot.GetProperty("data").GetProperty("r1").GetProperty("x").GetInt32(), Is.EqualTo(3));
    }

    [Test]
    public async Task SiteTopic_HasTheDeliveryPolicyOfItsTopic()
    {
        var options = new TopicBroker.Hosting.BrokerOptions();
        Assert.That(options.PolicyFor("site-1/robots"), Is.EqualTo(TopicBroker.Hosting.DeliveryPolicy.Latest));
        Assert.That(options.PolicyFor("site-1/orders"), Is.EqualTo(TopicBroker.Hosting.DeliveryPolicy.Disconnect));
        await Task.CompletedTask;
    }

    [Test]
    public async Task HttpGet_SiteWithNoData_IsAnEmptySnapshotAndCreatesNoSite()
    {
        await using var broker = await BrokerHost.StartAsync(SitesOn);
        using var http = broker.CreateHttpClient();

        var snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/site-7/orders").DefaultTimeout();

        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.Zero);
        Assert.That(snapshot.GetProperty("data").EnumerateObject(), Is.Empty);
        Assert.That(broker.Get<TopicRegistry>().Sites, Is.Empty);
        var unknown = await http.GetAsync("/api/topics/site-7/nope").DefaultTimeout();
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "the topic part must be a configured topic");
    }

    [Test]
    public async Task SitesDisabled_SiteTopicIsAnUnknownTopic()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var screen = await broker.ConnectAsync("site-12/robots");

        var (status, reason, _) = await screen.ReceiveUntilCloseAsync();

        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.InvalidMessageType));
        Assert.That(reason, Is.EqualTo("Unknown topic 'site-12/robots'"));
    }

    [TestCase("-bad/robots")]
    [TestCase("Site/robots")]
    [TestCase("site-1/nope")]
    public async Task InvalidSiteTopicName_IsAnUnknownTopic(string topic)
    {
        await using var broker = await BrokerHost.StartAsync(SitesOn);
        await using var screen = await broker.ConnectAsync(topic);

        var (status, _, _) = await screen.ReceiveUntilCloseAsync();

        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.InvalidMessageType));
        Assert.That(broker.Get<TopicRegistry>().Sites, Is.Empty);
    }

    [Test]
    public async Task MaxSites_OneSiteMore_IsRefusedWith1008()
    {
        await using var broker = await BrokerHost.StartAsync(With(SitesOn, ("Broker:Sites:MaxSites", "1")));
        await using var first = await broker.ConnectAsync("site-a/robots");
        await first.ReceiveFrameAsync("snapshot");
        await using var other = await broker.ConnectAsync("site-a/tables");
        await other.ReceiveFrameAsync("snapshot");

        await using var beyond = await broker.ConnectAsync("site-b/robots");
        var (status, reason, _) = await beyond.ReceiveUntilCloseAsync();

        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
        Assert.That(reason, Is.EqualTo("Too many sites"));
        Assert.That(broker.Get<TopicRegistry>().Sites, Is.EqualTo(new[] { "site-a" }));
    }

    [Test]
    public async Task DirectWrite_ToSiteTopic_IsRefusedAsReplicated()
    {
        await using var broker = await BrokerHost.StartAsync(SitesOn);
        using var http = broker.CreateHttpClient();

        var response = await http.PostAsync("/api/topics/site-1/orders/entities/o1", new StringContent("""{"n":1}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(body.GetProperty("error").GetString(), Is.EqualTo("replicated_topic"));

        var delete = await http.DeleteAsync("/api/topics/site-1/orders/entities/o1").DefaultTimeout();
        Assert.That(delete.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));

        await using var bridge = await broker.ConnectBridgeAsync();
        await bridge.SendLineAsync("""{"topic":"site-1/orders","id":"o1","data":{"n":1}}""");
        var answer = await bridge.ReadAnswerAsync();
        Assert.That(answer!.Value.GetProperty("error").GetString(), Is.EqualTo("replicated_topic"));
        Assert.That(broker.Get<TopicRegistry>().Sites, Is.Empty, "a refused write creates no site");
    }

    [Test]
    public async Task SiteScopedToken_ReadsItsSiteOnly()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings(With(SitesOn)));
        var token = TestTokens.Create(subscribe: ["site-12/*"], publish: ["site-12/*"]);

        await using var own = new TestWebSocket();
        await own.ConnectAsync(broker.WebSocketUri("site-12/robots", "access_token=" + token)).DefaultTimeout();
        await own.ReceiveFrameAsync("snapshot");

        using var other = new ClientWebSocket();
        other.Options.CollectHttpResponseDetails = true;
        Assert.ThrowsAsync<WebSocketException>(() => other.ConnectAsync(broker.WebSocketUri("site-13/robots", "access_token=" + token), CancellationToken.None).DefaultTimeout());
        Assert.That(other.HttpStatusCode, Is.EqualTo(HttpStatusCode.Forbidden));

        using var http = broker.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        Assert.That((await http.GetAsync("/api/topics/site-12/robots").DefaultTimeout()).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await http.GetAsync("/api/topics/site-13/robots").DefaultTimeout()).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That((await http.GetAsync("/api/topics/robots").DefaultTimeout()).StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "nor head office's own topics");
    }

    [Test]
    public async Task Restart_LoadsStoredSitesWithTheirState()
    {
        var directory = Directory.CreateTempSubdirectory("topicbroker-test-").FullName;
        try
        {
            await using (var broker = await BrokerHost.StartAsync(SitesOn, directory))
            {
                await WriteSiteTopicAsync(broker, "site-3/tables", "t1", """{"seats":4}""");
                await WriteSiteTopicAsync(broker, "site-3/tables", "t1", """{"seats":6}""");
                await WriteSiteTopicAsync(broker, "site-4/orders", "o1", """{"n":1}""");
            }

            await using var restarted = await BrokerHost.StartAsync(SitesOn, directory);
            Assert.That(restarted.Get<TopicRegistry>().Sites, Is.EqualTo(new[] { "site-3", "site-4" }));
            Assert.That(restarted.Get<TopicRegistry>().TryGet("site-3/tables", out var tables) && tables.Seq == 2, Is.True);
            Assert.That(restarted.Get<TopicRegistry>().TryGet("site-3/robots", out _), Is.True, "a site has every configured topic");
            await using var resumed = await restarted.ConnectAsync("site-3/tables", "since=1");
            var replay = await resumed.ReceiveFrameAsync();
            Assert.That(replay.GetProperty("seq").GetInt64(), Is.EqualTo(2), "history survives the restart");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task StatusAndMetrics_ListSiteTopicsCreatedWhileRunning()
    {
        await using var broker = await BrokerHost.StartAsync(SitesOn);
        using var http = broker.CreateHttpClient();
        await http.GetStringAsync("/api/status").DefaultTimeout();

        await WriteSiteTopicAsync(broker, "site-9/orders", "o1", """{"n":1}""");

        var status = await http.GetFromJsonAsync<JsonElement>("/api/status").DefaultTimeout();
        Assert.That(status.GetProperty("topics").GetProperty("site-9/orders").GetProperty("seq").GetInt64(), Is.EqualTo(1));
        var metrics = await http.GetStringAsync("/metrics").DefaultTimeout();
        Assert.That(metrics, Does.Contain("topic=\"site-9/orders\""));
        var history = await http.GetFromJsonAsync<JsonElement>("/api/status/history").DefaultTimeout();
        Assert.That(history.GetProperty("topics").EnumerateArray().Select(t => t.GetString()), Does.Contain("site-9/orders"));
    }
}
