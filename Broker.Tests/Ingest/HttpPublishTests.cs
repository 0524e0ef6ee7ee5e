using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Tests.Ingest;

public sealed class HttpPublishTests
{
    [Test]
    public async Task Post_CommitsBroadcastsAndAnswersSeq_GetReturnsTheSnapshot_DeleteRemoves()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var subscriber = await broker.ConnectAsync("orders");
        await subscriber.ReceiveFrameAsync("snapshot");
        using var http = broker.CreateHttpClient();

        var post = await http.PostAsync("/api/topics/orders/entities/order-12",
            new StringContent("""{"table":"T4","status":"cooking"}""", Encoding.UTF8, "application/json")).DefaultTimeout();

        Assert.That(post.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var answer = await post.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(answer.GetProperty("ok").GetBoolean(), Is.True);
        Assert.That(answer.GetProperty("seq").GetInt64(), Is.EqualTo(1));
        var update = await subscriber.ReceiveFrameAsync("update");
        Assert.That(update.GetProperty("data").GetProperty("status").GetString(), Is.EqualTo("cooking"));

        var snapshot = JsonDocument.Parse(await http.GetStringAsync("/api/topics/orders").DefaultTimeout()).RootElement;
        Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(1));
        Assert.That(snapshot.GetProperty("data").GetProperty("order-12").GetProperty("table").GetString(), Is.EqualTo("T4"));

        var delete = await http.DeleteAsync("/api/topics/orders/entities/order-12").DefaultTimeout();
        Assert.That(delete.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await delete.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("seq").GetInt64(), Is.EqualTo(2));
        Assert.That((await subscriber.ReceiveFrameAsync("update")).GetProperty("op").GetString(), Is.EqualTo("delete"));
    }

    [TestCase("orders", "not json", HttpStatusCode.BadRequest, "invalid_json")]
    [TestCase("orders", "", HttpStatusCode.BadRequest, "invalid_json")]
    [TestCase("orders", "[1]", HttpStatusCode.BadRequest, "invalid_data")]
    [TestCase("orders", "{\"a\":1}{\"b\":2}", HttpStatusCode.BadRequest, "invalid_json")]
    [TestCase("nosuchtopic", "{}", HttpStatusCode.NotFound, "unknown_topic")]
    public async Task BadPost_GetsStatusAndErrorObject_AndStoresNothing(string topic, string body, HttpStatusCode status, string error)
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();

        var response = await http.PostAsync($"/api/topics/{topic}/entities/x", new StringContent(body, Encoding.UTF8, "application/json")).DefaultTimeout();

        Assert.That(response.StatusCode, Is.EqualTo(status));
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(answer.GetProperty("ok").GetBoolean(), Is.False);
        Assert.That(answer.GetProperty("error").GetString(), Is.EqualTo(error));
        Assert.That(broker.Get<TopicBroker.Topics.TopicRegistry>().All.Sum(t => t.Seq), Is.Zero);
    }

    [Test]
    public async Task BodyOverMaxMessageBytes_Is413TooLarge()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:MaxMessageBytes"] = "1024" });
        using var http = broker.CreateHttpClient();

        var response = await http.PostAsync("/api/topics/orders/entities/x",
            new StringContent($$"""{"pad":"{{new string('x', 5000)}}"}""", Encoding.UTF8, "application/json")).DefaultTimeout();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), Is.EqualTo("too_large"));
    }

    [Test]
    public async Task GetUnknownTopic_Is404()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();

        var response = await http.GetAsync("/api/topics/nosuchtopic").DefaultTimeout();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}
