using System.Net.WebSockets;
using System.Text;

namespace TopicBroker.Tests.Connections;

public sealed class ClientInputTests
{
    [TestCase("this is not json", "invalid_json")]
    [TestCase("[1,2,3]", "invalid_json")]
    [TestCase("""{"type":"ping"} trailing""", "invalid_json")]
    [TestCase("""{"type":"subscribe","data":{}}""", "unknown_type")]
    [TestCase("""{"data":{}}""", "missing_type")]
    [TestCase("""{"type":7}""", "missing_type")]
    public async Task BadMessage_GetsErrorFrame_AndTheSocketStaysUsable(string message, string code)
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var client = await broker.ConnectAsync("events");
        await client.ReceiveFrameAsync("snapshot");

        await client.SendTextAsync(message);

        var error = await client.ReceiveFrameAsync("error");
        Assert.That(error.GetProperty("topic").GetString(), Is.EqualTo("events"));
        Assert.That(error.GetProperty("data").GetProperty("code").GetString(), Is.EqualTo(code));
        Assert.That(error.GetProperty("data").GetProperty("message").GetString(), Is.Not.Empty);

        // Still subscribed and still answered.
        var seq = await broker.PublishAsync("events", "e1", """{"ok":true}""");
        Assert.That((await client.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64(), Is.EqualTo(seq));
        await client.SendTextAsync("""{"type":"ping","data":1}""");
        Assert.That((await client.ReceiveFrameAsync("pong")).GetProperty("data").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task OversizedMessage_IsClosedWith1009_AndOtherClientsGoOn()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:MaxMessageBytes"] = "1024" });
        await using var bystander = await broker.ConnectAsync("events");
        await using var client = await broker.ConnectAsync("events");
        await bystander.ReceiveFrameAsync("snapshot");
        await client.ReceiveFrameAsync("snapshot");

        await client.SendTextAsync("""{"type":"ping","data":" """ + new string('x', 5000) + "\"}");

        var (status, reason, _) = await client.ReceiveUntilCloseAsync();
        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.MessageTooBig));
        Assert.That(reason, Is.EqualTo("message too big"));
        var seq = await broker.PublishAsync("events", "e1", "{}");
        Assert.That((await bystander.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64(), Is.EqualTo(seq));
    }

    [Test]
    public async Task MessageJustUnderTheLimit_IsAccepted()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:MaxMessageBytes"] = "1024" });
        await using var client = await broker.ConnectAsync("events");
        await client.ReceiveFrameAsync("snapshot");
        var prefix = """{"type":"ping","data":" """;
        var message = prefix + new string('y', 1024 - prefix.Length - 2) + "\"}";
        Assert.That(Encoding.UTF8.GetByteCount(message), Is.EqualTo(1024));

        await client.SendTextAsync(message);

        Assert.That((await client.ReceiveFrameAsync("pong")).GetProperty("data").GetString(), Does.EndWith("yyy"));
    }

    [Test]
    public async Task BinaryFrame_IsClosedWith1003()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var client = await broker.ConnectAsync("events");
        await client.ReceiveFrameAsync("snapshot");

        await client.Socket.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None).DefaultTimeout();

        var (status, reason, _) = await client.ReceiveUntilCloseAsync();
        Assert.That(status, Is.EqualTo(WebSocketCloseStatus.InvalidMessageType));
        Assert.That(reason, Is.EqualTo("binary frames are not supported"));
    }
}
