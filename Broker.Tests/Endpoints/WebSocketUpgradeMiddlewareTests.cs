using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace TopicBroker.Tests.Endpoints;

/// <summary>
/// docs/operations.md "Configuration", <c>Broker:WebSocket:RawUpgrade</c>: a plain upgrade to a
/// topic is taken below HTTP, and a client cannot tell. The rest of the suite runs every
/// WebSocket through it (it is on by default); these tests show which path a connection took.
/// </summary>
public sealed class WebSocketUpgradeMiddlewareTests
{
    private const string UpgradedBelowHttp = "WebSocket to {Topic} from {RemoteAddress} upgraded below HTTP";

    [Test]
    public async Task ByDefault_APlainUpgrade_IsTakenBelowHttp_AndServedAsAlways()
    {
        await using var broker = await BrokerHost.StartAsync();
        await broker.PublishAsync("robots", "r-1", """{"x":1}""");

        await using var client = await broker.ConnectAsync("robots");
        var snapshot = await client.ReceiveFrameAsync("snapshot");
        await broker.PublishAsync("robots", "r-1", """{"x":2}""");
        var update = await client.ReceiveFrameAsync("update");

        Assert.That(snapshot.GetProperty("data").GetProperty("r-1").GetProperty("x").GetInt32(), Is.EqualTo(1));
        Assert.That(update.GetProperty("data").GetProperty("x").GetInt32(), Is.EqualTo(2));
        await broker.WaitForLogAsync(e => e.MessageTemplate.Text == UpgradedBelowHttp);
    }

    [Test]
    public async Task Off_EveryUpgradeGoesThroughHttp()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:WebSocket:RawUpgrade"] = "false" });

        await using var client = await broker.ConnectAsync("robots");
        await client.ReceiveFrameAsync("snapshot");

        Assert.That(broker.LogEvents.Where(e => e.MessageTemplate.Text == UpgradedBelowHttp), Is.Empty);
    }

    [Test]
    public async Task AHeadArrivingInPieces_AndAFrameSentWithIt_AreBothRead()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, broker.HttpPort).DefaultTimeout();
        var stream = tcp.GetStream();
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var head = $"GET /ws/robots HTTP/1.1\r\nHost: 127.0.0.1:{broker.HttpPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                   $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        var bytes = Encoding.ASCII.GetBytes(head);

        await stream.WriteAsync(bytes.AsMemory(0, 3)).AsTask().DefaultTimeout();
        await stream.FlushAsync().DefaultTimeout();
        await stream.WriteAsync(bytes.AsMemory(3, 40)).AsTask().DefaultTimeout();
        await stream.FlushAsync().DefaultTimeout();
        // The rest of the head, and in the same write a ping the client owes nothing for yet:
        // the broker answers a WebSocket ping with a pong (RFC 6455 section 5.5.2).
        await stream.WriteAsync(bytes.AsMemory(43).ToArray().Concat(RawWebSocketClient.Frame(0x89, [1, 2, 3])).ToArray()).AsTask().DefaultTimeout();

        var response = await ReadHeadAsync(stream);
        Assert.That(response, Does.StartWith("HTTP/1.1 101 "));
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        Assert.That(response, Does.Contain($"\r\nSec-WebSocket-Accept: {accept}\r\n"));
        // The snapshot (a text frame) and the pong, in either order: the worker sends the one and
        // the receive side answers the other.
        var frames = new List<int>();
        while (!frames.Contains(0x81) || !frames.Contains(0x8A))
        {
            frames.Add(await ReadFrameOpcodeAsync(stream));
        }

        Assert.That(frames, Has.Count.EqualTo(2));
        await broker.WaitForLogAsync(e => e.MessageTemplate.Text == UpgradedBelowHttp);
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || head[^4] != '\r' || head[^3] != '\n' || head[^2] != '\r' || head[^1] != '\n')
        {
            Assert.That(await stream.ReadAsync(one).AsTask().DefaultTimeout(), Is.EqualTo(1), "the connection ended in the response head");
            head.Add(one[0]);
        }

        return Encoding.ASCII.GetString([.. head]);
    }

    /// <summary>Reads one unmasked server frame and returns its first byte (FIN and opcode).</summary>
    private static async Task<int> ReadFrameOpcodeAsync(NetworkStream stream)
    {
        var header = new byte[2];
        await stream.ReadExactlyAsync(header).AsTask().DefaultTimeout();
        long length = header[1] & 0x7F;
        if (length >= 126)
        {
            var extended = new byte[length == 126 ? 2 : 8];
            await stream.ReadExactlyAsync(extended).AsTask().DefaultTimeout();
            length = extended.Aggregate(0L, (value, b) => (value << 8) | b);
        }

        await stream.ReadExactlyAsync(new byte[length]).AsTask().DefaultTimeout();
        return header[0];
    }
}
