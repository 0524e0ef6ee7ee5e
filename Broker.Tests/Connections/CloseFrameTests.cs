using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace TopicBroker.Tests.Connections;

/// <summary>
/// protocol.md "Close codes": what a client receives before the broker's close frame, and that it
/// receives the close frame at all, on a raw socket that can send what a browser never would.
/// </summary>
public sealed class CloseFrameTests
{
    private static readonly byte[] UnreadTail = new byte[64 * 1024];

    [TestCase("unmasked", 1002)]
    [TestCase("reserved bits", 1002)]
    [TestCase("invalid UTF-8", 1007)]
    public async Task FrameBreakingRfc6455_IsAnsweredWithACloseFrameTheClientReads_NotAReset(string violation, int expected)
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var client = await RawWebSocketClient.ConnectAsync(broker.HttpPort, "/ws/events");
        var bad = violation switch
        {
            "unmasked" => RawWebSocketClient.Frame(0x81, Encoding.UTF8.GetBytes("""{"type":"ping"}"""), masked: false),
            "reserved bits" => RawWebSocketClient.Frame(0x81 | 0x20, Encoding.UTF8.GetBytes("""{"type":"ping"}""")),
            _ => RawWebSocketClient.Frame(0x81, [0x7B, 0xFF, 0xFE, 0x7D]),
        };

        // More input behind the bad frame, which the broker never reads as frames: closing with it
        // unread is what turns into a reset.
        await client.SendAsync([.. bad, .. UnreadTail]);

        var (_, code, _) = await client.ReadUntilCloseAsync();
        Assert.That(code, Is.EqualTo(expected));
        await using var other = await broker.ConnectAsync("events");
        await other.ReceiveFrameAsync("snapshot");
    }

    [Test]
    public async Task BurstOverTheRateLimit_GetsEveryPongItIsOwed_Then1008()
    {
        // The default bucket holds 40 (twice the rate of 20); with time standing still it never
        // refills, so the 41st ping is the one over the limit.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await BrokerHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(time));
        await using var client = await RawWebSocketClient.ConnectAsync(broker.HttpPort, "/ws/events");
        var burst = Enumerable.Range(1, 41).SelectMany(i => RawWebSocketClient.Text($$"""{"type":"ping","data":{{i}}}""")).ToArray();

        await client.SendAsync(burst);

        var (messages, code, reason) = await client.ReadUntilCloseAsync();
        var pongs = messages.Select(m => JsonDocument.Parse(m).RootElement).Where(f => f.GetProperty("type").GetString() == "pong")
            .Select(f => f.GetProperty("data").GetInt32()).ToList();
        Assert.That((code, reason), Is.EqualTo((1008, "rate limit exceeded")));
        Assert.That(pongs, Is.EqualTo(Enumerable.Range(1, 40)), "every ping within the limit is answered, in order");
    }

    [TestCase("binary", 1003)]
    [TestCase("too big", 1009)]
    public async Task PingThenAMessageThatCloses_GetsItsPong_BeforeTheClose(string kind, int expected)
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:MaxMessageBytes"] = "1024" });
        await using var client = await RawWebSocketClient.ConnectAsync(broker.HttpPort, "/ws/events");
        var closing = kind == "binary"
            ? RawWebSocketClient.Frame(0x82, [1, 2, 3])
            : RawWebSocketClient.Text($$"""{"type":"ping","data":"{{new string('x', 2000)}}"}""");

        await client.SendAsync([.. RawWebSocketClient.Text("""{"type":"ping","data":"owed"}"""), .. closing]);

        var (messages, code, _) = await client.ReadUntilCloseAsync();
        Assert.That(code, Is.EqualTo(expected));
        Assert.That(messages, Has.Some.Contains("\"type\":\"pong\"").And.Contains("owed"));
    }
}
