using System.Text;
using System.Text.Json;

namespace TopicBroker.Tests.Ingest;

public sealed class BridgeTests
{
    [Test]
    public async Task AckedLines_ArePersistedAndBroadcastWithIncreasingSeq()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var subscriber = await broker.ConnectAsync("robots");
        await subscriber.ReceiveFrameAsync("snapshot");
        await using var bridge = await broker.ConnectBridgeAsync();

        var seqs = new List<long>();
        for (var i = 1; i <= 3; i++)
        {
            seqs.Add(await bridge.PublishAsync($$$"""{"topic":"robots","id":"robot-{{{i}}}","data":{"battery":{{{90 + i}}}}}"""));
        }

        Assert.That(seqs, Is.EqualTo(new long[] { 1, 2, 3 }));
        for (var i = 1; i <= 3; i++)
        {
            var update = await subscriber.ReceiveFrameAsync("update");
            Assert.That(update.GetProperty("seq").GetInt64(), Is.EqualTo(seqs[i - 1]));
            Assert.That(update.GetProperty("id").GetString(), Is.EqualTo($"robot-{i}"));
            Assert.That(update.GetProperty("data").GetProperty("battery").GetInt32(), Is.EqualTo(90 + i));
        }

        using var db = broker.OpenDatabase();
        using var query = db.CreateCommand();
        query.CommandText = "SELECT data, seq FROM entities WHERE topic = 'robots' AND id = 'robot-2'";
        using var row = query.ExecuteReader();
        Assert.That(row.Read(), Is.True, "robot-2 is in the entities table");
        Assert.That(row.GetString(0), Is.EqualTo("""{"battery":92}"""));
        Assert.That(row.GetInt64(1), Is.EqualTo(2));
    }

    [TestCase("not json at all", "invalid_json")]
    [TestCase("""{"topic":"robots","id":"r1","data":{"x":1}""", "invalid_json")]
    [TestCase("""[{"topic":"robots"}]""", "invalid_json")]
    [TestCase("""{"topic":"robots","id":"r1","data":{}} {"again":1}""", "invalid_json")]
    [TestCase("""{"topic":"spaceships","id":"r1","data":{}}""", "unknown_topic")]
    [TestCase("""{"id":"r1","data":{}}""", "unknown_topic")]
    [TestCase("""{"topic":5,"id":"r1","data":{}}""", "unknown_topic")]
    [TestCase("""{"topic":"robots","data":{}}""", "invalid_id")]
    [TestCase("""{"topic":"robots","id":7,"data":{}}""", "invalid_id")]
    [TestCase("""{"topic":"robots","id":"","data":{}}""", "invalid_id")]
    [TestCase("""{"topic":"robots","id":"r1"}""", "invalid_data")]
    [TestCase("""{"topic":"robots","id":"r1","data":"full"}""", "invalid_data")]
    [TestCase("""{"topic":"robots","id":"r1","data":[1,2]}""", "invalid_data")]
    [TestCase("""{"topic":"robots","id":"r1","op":"explode","data":{}}""", "invalid_op")]
    public async Task BadLine_GetsItsError_StoresAndBroadcastsNothing_AndTheConnectionKeepsWorking(string line, string error)
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var subscriber = await broker.ConnectAsync("robots");
        await subscriber.ReceiveFrameAsync("snapshot");
        await using var bridge = await broker.ConnectBridgeAsync();

        await bridge.SendLineAsync(line);
        var answer = (await bridge.ReadAnswerAsync())!.Value;

        Assert.That(answer.GetProperty("ok").GetBoolean(), Is.False);
        Assert.That(answer.GetProperty("error").GetString(), Is.EqualTo(error));
        Assert.That(answer.GetProperty("message").GetString(), Is.Not.Empty);
        var seq = await bridge.PublishAsync("""{"topic":"robots","id":"good","data":{"ok":1}}""");
        Assert.That(seq, Is.EqualTo(1), "the bad line took no seq");
        var update = await subscriber.ReceiveFrameAsync("update");
        Assert.That(update.GetProperty("id").GetString(), Is.EqualTo("good"), "the bad line was not broadcast");
    }

    [Test]
    public async Task LineOverMaxMessageBytes_IsAnsweredTooLarge_AndTheNextLineWorks()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:MaxMessageBytes"] = "1024" });
        await using var bridge = await broker.ConnectBridgeAsync();

        await bridge.SendLineAsync($$$"""{"topic":"robots","id":"big","data":{"pad":"{{{new string('x', 200_000)}}}"}}""");
        var answer = (await bridge.ReadAnswerAsync())!.Value;

        Assert.That(answer.GetProperty("error").GetString(), Is.EqualTo("too_large"));
        Assert.That(await bridge.PublishAsync("""{"topic":"robots","id":"small","data":{}}"""), Is.EqualTo(1));
        Assert.That(broker.Get<TopicBroker.Topics.TopicRegistry>().TryGet("robots", out var topic) && topic.EntityCount == 1, Is.True);
    }

    [Test]
    public async Task InvalidUtf8_IsAnsweredInvalidJson()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var bridge = await broker.ConnectBridgeAsync();
        var line = Encoding.UTF8.GetBytes("""{"topic":"robots","id":"r","data":{"s":"X"}}""" + "\n");
        line[Array.IndexOf(line, (byte)'X')] = 0xFF;

        await bridge.SendRawAsync(line);

        Assert.That((await bridge.ReadAnswerAsync())!.Value.GetProperty("error").GetString(), Is.EqualTo("invalid_json"));
        Assert.That(await bridge.PublishAsync("""{"topic":"robots","id":"r","data":{}}"""), Is.EqualTo(1));
    }

    [Test]
    public async Task Delete_RemovesTheEntity_AndIsBroadcast()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var bridge = await broker.ConnectBridgeAsync();
        await bridge.PublishAsync("""{"topic":"tables","id":"T4","data":{"state":"seated"}}""");
        await using var subscriber = await broker.ConnectAsync("tables");
        await subscriber.ReceiveFrameAsync("snapshot");

        var seq = await bridge.PublishAsync("""{"topic":"tables","id":"T4","op":"delete"}""");

        var update = await subscriber.ReceiveFrameAsync("update");
        Assert.That(update.GetProperty("op").GetString(), Is.EqualTo("delete"));
        Assert.That(update.GetProperty("seq").GetInt64(), Is.EqualTo(seq));
        using var db = broker.OpenDatabase();
        using var query = db.CreateCommand();
        query.CommandText = "SELECT COUNT(*) FROM entities WHERE topic = 'tables'";
        Assert.That(query.ExecuteScalar(), Is.EqualTo(0L));
    }

    [Test]
    public async Task PipelinedLines_AreAnsweredInOrder_AndBlankLinesAndCrLfAreAccepted()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var bridge = await broker.ConnectBridgeAsync();
        var lines = new StringBuilder();
        for (var i = 0; i < 1000; i++)
        {
            lines.Append(i % 10 == 3 ? "{\"topic\":\"nope\",\"id\":\"x\",\"data\":{}}\r\n" : $"{{\"topic\":\"events\",\"id\":\"e{i}\",\"data\":{{\"n\":{i}}}}}\r\n");
            if (i % 100 == 0)
            {
                lines.Append("\n");
            }
        }

        await bridge.SendRawAsync(Encoding.UTF8.GetBytes(lines.ToString()));

        long expectedSeq = 1;
        for (var i = 0; i < 1000; i++)
        {
            var answer = (await bridge.ReadAnswerAsync())!.Value;
            if (i % 10 == 3)
            {
                Assert.That(answer.GetProperty("error").GetString(), Is.EqualTo("unknown_topic"), $"line {i}");
            }
            else
            {
                Assert.That(answer.GetProperty("seq").GetInt64(), Is.EqualTo(expectedSeq++), $"line {i}");
            }
        }
    }

    [Test]
    public async Task ManyConcurrentClients_LoseNothing_AndKeepPerTopicOrder()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var robots = await broker.ConnectAsync("robots");
        await using var orders = await broker.ConnectAsync("orders");
        await robots.ReceiveFrameAsync("snapshot");
        await orders.ReceiveFrameAsync("snapshot");
        const int clients = 8, perClient = 250;

        var acks = await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            await using var bridge = await broker.ConnectBridgeAsync();
            var topic = c % 2 == 0 ? "robots" : "orders";
            var batch = new StringBuilder();
            for (var i = 0; i < perClient; i++)
            {
                batch.Append($$$"""{"topic":"{{{topic}}}","id":"c{{{c}}}-{{{i}}}","data":{"client":{{{c}}},"i":{{{i}}}}}""").Append('\n');
            }

            await bridge.SendRawAsync(Encoding.UTF8.GetBytes(batch.ToString()));
            var seqs = new List<long>();
            for (var i = 0; i < perClient; i++)
            {
                seqs.Add(await bridge.ReadAckAsync());
            }

            Assert.That(seqs, Is.Ordered.Ascending.And.Unique, "one client's lines keep their order");
            return (topic, seqs);
        }));

        foreach (var (topic, subscriber) in new[] { ("robots", robots), ("orders", orders) })
        {
            var acked = acks.Where(a => a.topic == topic).SelectMany(a => a.seqs).Order().ToList();
            Assert.That(acked, Is.EqualTo(Enumerable.Range(1, acked.Count).Select(i => (long)i).ToList()), "seqs are contiguous");
            for (var i = 1; i <= acked.Count; i++)
            {
                Assert.That((await subscriber.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64(), Is.EqualTo(i));
            }

            Assert.That(broker.Get<TopicBroker.Topics.TopicRegistry>().TryGet(topic, out var state) && state.EntityCount == clients / 2 * perClient, Is.True);
        }
    }

    [Test]
    public async Task ClientVanishingMidLine_LosesNothingAcked_AndStoresNothingPartial()
    {
        await using var broker = await BrokerHost.StartAsync();
        var bridge = await broker.ConnectBridgeAsync();
        var acked = await bridge.PublishAsync("""{"topic":"orders","id":"o1","data":{"status":"new"}}""");
        await bridge.SendRawAsync(Encoding.UTF8.GetBytes("""{"topic":"orders","id":"o2","da"""));
        bridge.Abort();
        await bridge.DisposeAsync();

        await using var other = await broker.ConnectBridgeAsync();
        await other.PublishAsync("""{"topic":"orders","id":"o3","data":{}}""");
        using var http = broker.CreateHttpClient();
        var snapshot = JsonDocument.Parse(await http.GetStringAsync("/api/topics/orders").DefaultTimeout()).RootElement;
        var data = snapshot.GetProperty("data");
        Assert.That(acked, Is.EqualTo(1));
        Assert.That(data.TryGetProperty("o1", out _), Is.True);
        Assert.That(data.TryGetProperty("o2", out _), Is.False);
        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(2));
    }
}
