using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using TopicBroker.Hosting;

namespace TopicBroker.Tests.Endpoints;

/// <summary>
/// The rules protocol.md states for what was once undefined: ids in HTTP paths, the paths
/// /ws/ accepts, bodies that are JSON but not objects, a ping without data, and the durable default.
/// </summary>
public sealed class PathAndBodyRulesTests
{
    [TestCase("a%2Fb", "a/b")]
    [TestCase("a%20b", "a b")]
    [TestCase("a%25b", "a%b")]
    [TestCase("a%252Fb", "a%2Fb")]
    [TestCase("caf%C3%A9-%E2%82%AC", "café-€")]
    public async Task HttpEntityId_IsPercentDecodedExactlyOnce(string sent, string stored)
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();

        var posted = await http.PostAsync($"/api/topics/orders/entities/{sent}", new StringContent("""{"n":1}""", Encoding.UTF8, "application/json")).DefaultTimeout();

        Assert.That(posted.StatusCode, Is.EqualTo(HttpStatusCode.OK), await posted.Content.ReadAsStringAsync());
        var snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/orders").DefaultTimeout();
        Assert.That(snapshot.GetProperty("data").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { stored }));
        var deleted = await http.DeleteAsync($"/api/topics/orders/entities/{sent}").DefaultTimeout();
        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/orders").DefaultTimeout();
        Assert.That(snapshot.GetProperty("data").EnumerateObject(), Is.Empty, "the delete addressed the same id");
    }

    [Test]
    public async Task IdWithSlashFromTheBridge_IsAddressableOverHttp()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var bridge = await broker.ConnectBridgeAsync();
        await bridge.PublishAsync("""{"topic":"orders","id":"kitchen/7","data":{"n":1}}""");
        using var http = broker.CreateHttpClient();

        var deleted = await http.DeleteAsync("/api/topics/orders/entities/" + Uri.EscapeDataString("kitchen/7")).DefaultTimeout();

        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/orders").DefaultTimeout();
        Assert.That(snapshot.GetProperty("data").EnumerateObject(), Is.Empty);
    }

    [TestCase("[1]")]
    [TestCase("\"x\"")]
    [TestCase("42")]
    [TestCase("null")]
    public async Task HttpBodyThatIsJsonButNotAnObject_Gets400InvalidData(string body)
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();

        var answer = await http.PostAsync("/api/topics/orders/entities/x", new StringContent(body, Encoding.UTF8, "application/json")).DefaultTimeout();

        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = await answer.Content.ReadFromJsonAsync<JsonElement>().DefaultTimeout();
        Assert.That(error.GetProperty("error").GetString(), Is.EqualTo("invalid_data"));
    }

    [TestCase("robots/")]
    [TestCase("%72obots")]
    public async Task WebSocketPath_WithTrailingSlashOrEncodedLetters_IsTheSameTopic(string path)
    {
        await using var broker = await BrokerHost.StartAsync();
        await broker.PublishAsync("robots", "r1", "{}");
        await using var client = await broker.ConnectAsync(path);

        var snapshot = await client.ReceiveFrameAsync("snapshot");

        Assert.That((snapshot.GetProperty("topic").GetString(), snapshot.GetProperty("seq").GetInt64()), Is.EqualTo(("robots", 1L)));
    }

    [Test]
    public async Task WebSocketPath_InAnotherCase_IsAnUnknownTopic_ClosedWith1003()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var client = await broker.ConnectAsync("Robots");

        var (status, reason, _) = await client.ReceiveUntilCloseAsync();

        Assert.That((status, reason), Is.EqualTo(((WebSocketCloseStatus?)WebSocketCloseStatus.InvalidMessageType, "Unknown topic (not a valid topic name)")));
    }

    [Test]
    public async Task WebSocketPath_WithoutATopic_Gets404BeforeTheUpgrade()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;

        Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(broker.WebSocketUri(""), CancellationToken.None).DefaultTimeout());
        Assert.That(socket.HttpStatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task PingWithoutData_GetsPongWithNullData()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var client = await broker.ConnectAsync("events");
        await client.ReceiveFrameAsync("snapshot");

        await client.SendTextAsync("""{"type":"ping"}""");

        var pong = await client.ReceiveFrameAsync("pong");
        Assert.That(pong.GetProperty("data").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public void Synchronous_DefaultsToFull_SoAnAckSurvivesAPowerCut() =>
        Assert.That(new BrokerOptions().Synchronous, Is.EqualTo(SynchronousMode.Full));
}
