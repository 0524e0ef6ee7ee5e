using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Tests.Security;

/// <summary>
/// Throws random and malformed input at every door of a running broker, then checks that it still
/// serves a well-behaved client and that every acknowledged update is intact. Seeded, bounded in
/// count, and independent of timing.
/// </summary>
public sealed class FuzzTests
{
    private const int MaxMessageBytes = 4096;
    private const string GoodLinePrefix = """{"topic":"orders","id":""";

    [Test]
    public async Task MalformedFramesLinesAndBodies_NeverHurtTheBroker_OrAnyAckedUpdate([Values(20261123, 7)] int seed)
    {
        var random = new Random(seed);
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:MaxMessageBytes"] = MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Broker:ClientMessagesPerSecond"] = "100000",
        });
        var acked = new Dictionary<string, string>();
        await using var bridge = await broker.ConnectBridgeAsync();
        await using var fuzzedSocket = await broker.ConnectAsync("orders");
        await fuzzedSocket.ReceiveFrameAsync("snapshot");
        using var http = broker.CreateHttpClient();

        for (var round = 0; round < 150; round++)
        {
            // Bridge: a malformed line, then a good one; both must be answered, in order.
            var bad = MalformedLine(random, round);
            await bridge.SendRawAsync([.. bad, (byte)'\n']);
            var badAnswer = (await bridge.ReadAnswerAsync())!.Value;
            if (badAnswer.GetProperty("ok").GetBoolean())
            {
                // A mutation that happened to be a valid line is an acked update like any other.
                var line = JsonDocument.Parse(bad).RootElement;
                acked[line.GetProperty("id").GetString()!] = line.GetProperty("data").GetRawText();
            }

            var id = $"good-{round}";
            var data = $$"""{"round":{{round}},"note":"{{new string([.. RandomText(random, 20).Where(char.IsLetterOrDigit)])}}"}""";
            var goodAnswer = await bridge.PublishAsync(GoodLinePrefix + "\"" + id + "\",\"data\":" + data + "}");
            Assert.That(goodAnswer, Is.GreaterThan(0));
            acked[id] = data;

            // WebSocket: random text; the answer is an error frame (or a pong), and the socket lives on.
            await fuzzedSocket.SendTextAsync(RandomText(random, random.Next(0, 300)));

            // HTTP: a random body is a 4xx with an error object, never a 5xx.
            var body = RandomBytes(random, random.Next(0, 600));
            var response = await http.PostAsync($"/api/topics/orders/entities/http-{round}", new ByteArrayContent(body)).DefaultTimeout();
            Assert.That((int)response.StatusCode, Is.LessThan(500), $"body {Convert.ToHexString(body)}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                acked[$"http-{round}"] = Encoding.UTF8.GetString(body);
            }
        }

        // Frames that must end a socket do so with the documented code and hurt no one else.
        await ExpectCloseAsync(broker, socket => socket.SendAsync(RandomBytes(random, 64), WebSocketMessageType.Binary, true, CancellationToken.None), WebSocketCloseStatus.InvalidMessageType);
        await ExpectCloseAsync(broker, socket => socket.SendAsync(Encoding.UTF8.GetBytes(new string('x', MaxMessageBytes * 3)), WebSocketMessageType.Text, true, CancellationToken.None), WebSocketCloseStatus.MessageTooBig);
        await ExpectInvalidUtf8DropsOnlyThatSocketAsync(broker);

        // The fuzzed socket is still subscribed and answers pings.
        await fuzzedSocket.SendTextAsync("""{"type":"ping","data":"still-there"}""");
        Assert.That((await fuzzedSocket.ReceiveFrameAsync("pong")).GetProperty("data").GetString(), Is.EqualTo("still-there"));

        // A well-behaved newcomer sees every acked update, intact.
        await using var checker = await broker.ConnectAsync("orders");
        var snapshot = (await checker.ReceiveFrameAsync("snapshot")).GetProperty("data");
        foreach (var (ackedId, ackedData) in acked)
        {
            Assert.That(snapshot.TryGetProperty(ackedId, out var stored), Is.True, ackedId);
            Assert.That(JsonElementEquals(stored, JsonDocument.Parse(ackedData).RootElement), Is.True, $"{ackedId}: {stored.GetRawText()} vs {ackedData}");
        }
    }

    private static async Task ExpectCloseAsync(BrokerHost broker, Func<ClientWebSocket, Task> send, WebSocketCloseStatus expected)
    {
        await using var socket = await broker.ConnectAsync("orders");
        await socket.ReceiveFrameAsync("snapshot");
        await send(socket.Socket).DefaultTimeout();
        var (status, _, _) = await socket.ReceiveUntilCloseAsync();
        Assert.That(status, Is.EqualTo(expected));
    }

    /// <summary>
    /// Invalid UTF-8 in a text frame is caught by .NET's WebSocket itself, which sends 1007; the
    /// broker lingers so that the client reads it (protocol.md "Close codes").
    /// </summary>
    private static async Task ExpectInvalidUtf8DropsOnlyThatSocketAsync(BrokerHost broker)
    {
        await using var socket = await broker.ConnectAsync("orders");
        await socket.ReceiveFrameAsync("snapshot");
        await socket.Socket.SendAsync(new byte[] { 0x7B, 0xFF, 0xFE, 0x7D }, WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();
        var (status, _, _) = await socket.ReceiveUntilCloseAsync();
        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.InvalidPayloadData));
    }

    /// <summary>One malformed bridge line (no newline inside, never blank).</summary>
    private static byte[] MalformedLine(Random random, int round)
    {
        var good = GoodLinePrefix + "\"m" + round + "\",\"data\":{\"x\":" + round + "}}";
        byte[] line = (round % 9) switch
        {
            0 => RandomBytes(random, random.Next(1, 200)),
            1 => Encoding.UTF8.GetBytes(good[..random.Next(1, good.Length - 1)]),
            2 => Encoding.UTF8.GetBytes(GoodLinePrefix + "\"deep\",\"data\":" + string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 101)),
            3 => Encoding.UTF8.GetBytes(GoodLinePrefix + "\"huge" + round + "\",\"data\":{\"n\":1e999999,\"m\":-123456789012345678901234567890}}"),
            4 => Encoding.UTF8.GetBytes(GoodLinePrefix + "\"ctl\",\"data\":{\"s\":\"a\u0001b\u001b\"}}"),
            5 => Encoding.UTF8.GetBytes(GoodLinePrefix + "\"big\",\"data\":{\"s\":\"" + new string('z', MaxMessageBytes) + "\"}}"),
            6 => [.. Encoding.UTF8.GetBytes(good[..20]), 0xC3, 0x28, .. Encoding.UTF8.GetBytes(good[20..])],
            7 => Encoding.UTF8.GetBytes($$"""{"topic":{{random.Next()}},"id":[],"data":"{{RandomText(random, 10).Replace("\"", "")}}"}"""),
            _ => Mutate(random, Encoding.UTF8.GetBytes(good)),
        };
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == (byte)'\n')
            {
                line[i] = (byte)'#';
            }
        }

        return [(byte)'x', .. line];
    }

    private static byte[] Mutate(Random random, byte[] good)
    {
        var copy = (byte[])good.Clone();
        for (var flips = random.Next(1, 4); flips > 0; flips--)
        {
            copy[random.Next(copy.Length)] = (byte)random.Next(256);
        }

        return copy;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Random but valid UTF-8 text (WebSocket text frames must be), control characters included.</summary>
    private static string RandomText(Random random, int length)
    {
        const string alphabet = "{}[]\":,0123456789abcdefxyz \t\u0001\u001f\\/éß☕𝄞typepingdata";
        var builder = new StringBuilder(length);
        while (builder.Length < length)
        {
            var c = alphabet[random.Next(alphabet.Length)];
            if (char.IsHighSurrogate(c) || char.IsLowSurrogate(c))
            {
                builder.Append("𝄞");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static bool JsonElementEquals(JsonElement a, JsonElement b) => JsonElement.DeepEquals(a, b);
}
