using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace TopicBroker.Tests.Security;

public sealed class HttpAndBridgeAuthTests
{
    private static async Task<(HttpStatusCode Status, string? Error)> PostAsync(BrokerHost broker, string topic, string? token)
    {
        using var http = broker.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/topics/{topic}/entities/x")
        {
            Content = new StringContent("{}", Encoding.UTF8, "application/json"),
        };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        var response = await http.SendAsync(request).DefaultTimeout();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.StatusCode, body.TryGetProperty("error", out var error) ? error.GetString() : null);
    }

    [Test]
    public async Task HttpPublish_NeedsAValidTokenWithPublishRight()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());

        Assert.That(await PostAsync(broker, "orders", null), Is.EqualTo((HttpStatusCode.Unauthorized, "unauthorized")));
        Assert.That(await PostAsync(broker, "orders", TestTokens.Create(publish: ["orders"], expiresIn: TimeSpan.FromMinutes(-1))), Is.EqualTo((HttpStatusCode.Unauthorized, "unauthorized")));
        Assert.That(await PostAsync(broker, "orders", TestTokens.Create(publish: ["orders"], key: TestTokens.OtherKey)), Is.EqualTo((HttpStatusCode.Unauthorized, "unauthorized")));
        Assert.That(await PostAsync(broker, "orders", TestTokens.Create(subscribe: ["*"])), Is.EqualTo((HttpStatusCode.Forbidden, "forbidden")), "subscribe right only");
        Assert.That(await PostAsync(broker, "orders", TestTokens.Create(publish: ["robots"])), Is.EqualTo((HttpStatusCode.Forbidden, "forbidden")), "other topic");
        Assert.That((await PostAsync(broker, "orders", TestTokens.Create(publish: ["ord*"]))).Status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(broker.Get<TopicBroker.Topics.TopicRegistry>().TryGet("orders", out var orders) && orders.Seq == 1, Is.True, "only the authorized publish was stored");
    }

    [Test]
    public async Task HttpSnapshot_NeedsSubscribeRight()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());
        using var http = broker.CreateHttpClient();

        var anonymous = await http.GetAsync("/api/topics/orders").DefaultTimeout();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create(publish: ["orders"]));
        var publishOnly = await http.GetAsync("/api/topics/orders").DefaultTimeout();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create(subscribe: ["orders"]));
        var subscriber = await http.GetAsync("/api/topics/orders").DefaultTimeout();

        Assert.That((anonymous.StatusCode, publishOnly.StatusCode, subscriber.StatusCode),
            Is.EqualTo((HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.OK)));
    }

    [TestCase("no auth line")]
    [TestCase("expired")]
    [TestCase("wrong key")]
    [TestCase("not a string")]
    public async Task Bridge_FirstLineMustAuthenticate_OrItIsAnsweredAndClosed(string kind)
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());
        await using var bridge = await broker.ConnectBridgeAsync();
        var first = kind switch
        {
            "no auth line" => """{"topic":"robots","id":"r1","data":{}}""",
            "expired" => $$"""{"auth":"{{TestTokens.Create(publish: ["*"], expiresIn: TimeSpan.FromMinutes(-1))}}"}""",
            "wrong key" => $$"""{"auth":"{{TestTokens.Create(publish: ["*"], key: TestTokens.OtherKey)}}"}""",
            _ => """{"auth":42}""",
        };

        await bridge.SendLineAsync(first);
        await bridge.SendLineAsync("""{"topic":"robots","id":"r2","data":{}}""");

        var answer = (await bridge.ReadAnswerAsync())!.Value;
        Assert.That(answer.GetProperty("error").GetString(), Is.EqualTo("unauthorized"));
        Assert.That(await bridge.ReadAnswerAsync(), Is.Null, "closed after the refusal; the second line is never read");
        Assert.That(broker.Get<TopicBroker.Topics.TopicRegistry>().All.Sum(t => t.Seq), Is.Zero);
    }

    [Test]
    public async Task Bridge_AuthenticatedLines_NeedThePublishRight_PerTopic()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());
        await using var bridge = await broker.ConnectBridgeAsync();

        await bridge.SendLineAsync($$"""{"auth":"{{TestTokens.Create(subscribe: ["*"], publish: ["robots"])}}"}""");
        Assert.That((await bridge.ReadAnswerAsync())!.Value.GetRawText(), Is.EqualTo("""{"ok":true}"""));
        await bridge.SendLineAsync("""{"topic":"orders","id":"o1","data":{}}""");
        Assert.That((await bridge.ReadAnswerAsync())!.Value.GetProperty("error").GetString(), Is.EqualTo("forbidden"));
        Assert.That(await bridge.PublishAsync("""{"topic":"robots","id":"r1","data":{}}"""), Is.EqualTo(1), "the connection goes on");
    }

    [Test]
    public async Task Bridge_TokenExpiry_ClosesTheConnection_UnlessRefreshedInBand()
    {
        // The broker's clock is fake: the test moves it past the expiry instead of waiting.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings(), services: s => s.AddSingleton<TimeProvider>(clock));
        await using var refreshed = await broker.ConnectBridgeAsync();
        await using var expiring = await broker.ConnectBridgeAsync();
        // exp is in whole seconds: it falls more than 59 s and at most 60 s after the clock's start.
        foreach (var bridge in new[] { refreshed, expiring })
        {
            await bridge.SendLineAsync($$"""{"auth":"{{TestTokens.Create(publish: ["robots"], expiresIn: TimeSpan.FromSeconds(60), now: clock.GetUtcNow())}}"}""");
            Assert.That((await bridge.ReadAnswerAsync())!.Value.GetProperty("ok").GetBoolean(), Is.True);
        }

        await refreshed.SendLineAsync($$"""{"auth":"{{TestTokens.Create(publish: ["robots"], expiresIn: TimeSpan.FromHours(1))}}"}""");
        Assert.That((await refreshed.ReadAnswerAsync())!.Value.GetProperty("ok").GetBoolean(), Is.True);

        clock.Advance(TimeSpan.FromSeconds(58));
        Assert.That(await expiring.PublishAsync("""{"topic":"robots","id":"r1","data":{}}"""), Is.GreaterThan(0), "open until its token expires");
        clock.Advance(TimeSpan.FromSeconds(3));

        Assert.That(await expiring.ReadAnswerAsync(), Is.Null, "closed when its token expired");
        await broker.WaitForLogAsync(e => e.RenderMessage().Contains("token expired", StringComparison.Ordinal));
        Assert.That(await refreshed.PublishAsync("""{"topic":"robots","id":"r2","data":{}}"""), Is.GreaterThan(0), "the refreshed one outlived the old expiry");
    }
}
