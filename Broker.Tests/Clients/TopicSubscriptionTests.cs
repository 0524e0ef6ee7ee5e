using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using TopicBroker.Client.Subscription;
using TopicBroker.Tests.Samples;

namespace TopicBroker.Tests.Clients;

/// <summary>The .NET client's <see cref="TopicSubscription"/> (clients/dotnet) against the real broker.</summary>
public sealed class TopicSubscriptionTests
{
    [Test]
    public async Task Subscription_YieldsTheSnapshotThenEveryUpdateInOrder()
    {
        await using var broker = await BrokerHost.StartAsync();
        var before = await broker.PublishAsync("tables", "T1", """{"state":"seated","seats":4}""");
        var subscription = Subscribe(broker.WebSocketUri("tables"));
        await using var events = subscription.GetAsyncEnumerator();

        var snapshot = (TopicSnapshot)await NextAsync(events);
        Assert.That(snapshot.Seq, Is.EqualTo(before));
        Assert.That(snapshot.Entities["T1"].GetProperty("seats").GetInt32(), Is.EqualTo(4));
        Assert.That(subscription.Status, Is.EqualTo(TopicConnectionStatus.Live));

        var upserted = await broker.PublishAsync("tables", "T2", """{"state":"free"}""");
        var deleted = await broker.PublishAsync("tables", "T1", null);

        var first = (TopicUpdate)await NextAsync(events);
        var second = (TopicUpdate)await NextAsync(events);
        Assert.That((first.Seq, first.Id, first.Operation, first.Data?.GetProperty("state").GetString()), Is.EqualTo((upserted, "T2", TopicOperation.Upsert, "free")));
        Assert.That((second.Seq, second.Id, second.Operation, second.Data), Is.EqualTo((deleted, "T1", TopicOperation.Delete, (JsonElement?)null)));
        Assert.That(subscription.Entities.Keys, Is.EquivalentTo(new[] { "T2" }));
        Assert.That(subscription.Seq, Is.EqualTo(deleted));
    }

    [Test]
    public async Task BrokerRestart_SubscriptionResumesWithSince_AndYieldsWhatItMissedAsUpdates()
    {
        await using var broker = await RestartingBroker.StartAsync();
        await broker.Current.PublishAsync("orders", "order-1", """{"status":"new"}""");
        var log = new ClientLog();
        var subscription = Subscribe(broker.Current.WebSocketUri("orders"), log);
        await using var events = subscription.GetAsyncEnumerator();
        var snapshot = await NextAsync(events);

        // The next event can only come from the broker that starts after the changes were made.
        var next = NextAsync(events);
        await broker.StopAsync();
        var missedUpTo = await broker.PublishWhileAwayAsync(
            BridgeLine.Upsert("orders", "order-1", """{"status":"cooking"}"""),
            BridgeLine.Upsert("orders", "order-2", """{"status":"new"}"""));
        await broker.RestartAsync();

        var first = (TopicUpdate)await next;
        var second = (TopicUpdate)await NextAsync(events);
        Assert.That((first.Id, first.Seq), Is.EqualTo(("order-1", snapshot.Seq + 1)), log.ToString());
        Assert.That((second.Id, second.Seq), Is.EqualTo(("order-2", missedUpTo)));
        Assert.That(subscription.Reconnects, Is.EqualTo(1));
        await log.WaitForAsync($"Subscribed to orders (since {snapshot.Seq})");
    }

    [Test]
    public async Task ShutdownFrame_SubscriptionWaitsReconnectAfter_OnItsClock()
    {
        // The broker spreads reconnects over 10 s; the subscription's clock is fake, so the test moves it instead of waiting.
        await using var broker = await RestartingBroker.StartAsync(new Dictionary<string, string?> { ["Broker:ShutdownReconnectSpread"] = "00:00:10" });
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var reconnecting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscription = Subscribe(broker.Current.WebSocketUri("status"), clock: clock);
        subscription.StatusChanged += (_, status) =>
        {
            if (status == TopicConnectionStatus.Reconnecting)
            {
                reconnecting.TrySetResult();
            }
        };
        await using var events = subscription.GetAsyncEnumerator();
        await NextAsync(events);

        var next = NextAsync(events);
        await broker.StopAsync();
        await reconnecting.Task.DefaultTimeout();
        var reconnectAfter = subscription.LastShutdown!.ReconnectAfter;
        Assert.That(subscription.ReconnectDelay, Is.EqualTo(reconnectAfter), "the delay the broker asked for, not a backoff");
        await broker.RestartAsync();
        var seq = await broker.Current.PublishAsync("status", "kitchen", """{"open":true}""");

        if (reconnectAfter > TimeSpan.FromMilliseconds(1))
        {
            clock.Advance(reconnectAfter - TimeSpan.FromMilliseconds(1));
            Assert.That(subscription.Status, Is.EqualTo(TopicConnectionStatus.Reconnecting));
        }

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.That((await next).Seq, Is.EqualTo(seq));
        Assert.That(subscription.Reconnects, Is.EqualTo(1));
    }

    [Test]
    public async Task RefreshToken_IsAnsweredInPlace_AndARefusedOneKeepsTheConnection()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());
        var tokensAsked = 0;
        var subscription = new TopicSubscription(new TopicSubscriptionOptions
        {
            Uri = broker.WebSocketUri("robots"),
            AccessToken = _ =>
            {
                tokensAsked++;
                return ValueTask.FromResult(TestTokens.Create(["robots"], expiresIn: TimeSpan.FromMinutes(5)));
            },
        });
        await using var events = subscription.GetAsyncEnumerator();
        await NextAsync(events);
        // Answers arrive while the subscription reads, that is while someone waits for its next event.
        var next = NextAsync(events);

        var refused = Assert.ThrowsAsync<TokenRefreshRefusedException>(() => subscription.RefreshTokenAsync(TestTokens.Create(["orders"])).DefaultTimeout());
        var answer = await subscription.RefreshTokenAsync(TestTokens.Create(["robots"], expiresIn: TimeSpan.FromHours(1))).DefaultTimeout();

        Assert.That(refused!.Code, Is.EqualTo("forbidden"));
        Assert.That(answer.ExpiresAt, Is.GreaterThan(DateTimeOffset.UtcNow.AddMinutes(30)));
        var seq = await broker.PublishAsync("robots", "r1", "{}");
        Assert.That((await next).Seq, Is.EqualTo(seq));
        Assert.That(tokensAsked, Is.EqualTo(1));
    }

    [Test]
    public async Task UnknownTopic_EndsTheEnumerationWithTopicUnavailable()
    {
        await using var broker = await BrokerHost.StartAsync();
        var subscription = Subscribe(broker.WebSocketUri("no-such-topic"));

        var ex = Assert.ThrowsAsync<TopicUnavailableException>(async () =>
        {
            await foreach (var _ in subscription.WithCancellation(CancellationToken.None))
            {
            }
        });

        Assert.That(ex!.Message, Does.Contain("Unknown topic 'no-such-topic'"));
        Assert.That(subscription.Status, Is.EqualTo(TopicConnectionStatus.Closed));
    }

    private static TopicSubscription Subscribe(Uri uri, ClientLog? log = null, TimeProvider? clock = null) => new(new TopicSubscriptionOptions
    {
        Uri = uri,
        // Back within a fraction of a second once a broker listens again.
        InitialBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromMilliseconds(200),
        Logger = log ?? new ClientLog(),
        TimeProvider = clock ?? TimeProvider.System,
    });

    private static async Task<TopicEvent> NextAsync(IAsyncEnumerator<TopicEvent> events)
    {
        Assert.That(await events.MoveNextAsync().DefaultTimeout(), Is.True, "the subscription ended");
        return events.Current;
    }
}
