using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Tests.Hosting;

public sealed class GracefulShutdownProcessTests
{
    [Test]
    public async Task Sigterm_AnswersEveryLineRead_ClosesClientsWith1001_AndExitsZero()
    {
        var directory = Directory.CreateTempSubdirectory("topicbroker-sigterm-").FullName;
        try
        {
            var acked = new List<long>();
            // The subscriber reads only at the end: a queue deeper than the 20,000 updates keeps it
            // from being closed as a slow consumer, whatever this machine's speed.
            await using (var child = await BrokerProcess.StartAsync(directory, "--Broker:SendQueueCapacity=100000"))
            {
                await using var subscriber = new TestWebSocket();
                await subscriber.ConnectAsync(new Uri($"ws://{child.HttpUri.Authority}/ws/orders"));
                await subscriber.ReceiveFrameAsync("snapshot");
                await using var bridge = await TestBridgeClient.ConnectAsync(child.BridgeEndPoint);
                var lines = new StringBuilder();
                for (var i = 0; i < 20_000; i++)
                {
                    lines.Append($$$"""{"topic":"orders","id":"o{{{i}}}","data":{"i":{{{i}}}}}""").Append('\n');
                }

                var sending = bridge.SendRawAsync(Encoding.UTF8.GetBytes(lines.ToString()));
                acked.Add(await bridge.ReadAckAsync());

                var exitCode = child.TerminateAsync();
                while (await bridge.ReadAnswerAsync(TimeSpan.FromSeconds(60)) is { } answer)
                {
                    Assert.That(answer.GetProperty("ok").GetBoolean(), Is.True, answer.GetRawText());
                    acked.Add(answer.GetProperty("seq").GetInt64());
                }

                var shutdown = await subscriber.ReceiveFrameAsync("shutdown");
                var (status, _, _) = await subscriber.ReceiveUntilCloseAsync();
                Assert.That(status, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
                Assert.That(shutdown.GetProperty("data").GetProperty("resumeFrom").GetInt64(), Is.EqualTo(acked.Count), "resumeFrom is final: every acked change");
                Assert.That(await exitCode, Is.Zero, child.Output);
                try
                {
                    await sending;
                }
                catch (IOException)
                {
                    // The broker stopped reading and closed; the unread rest was never acked.
                }
            }

            Assert.That(acked, Is.EqualTo(Enumerable.Range(1, acked.Count).Select(i => (long)i)), "answers in order, none skipped");
            await using var restarted = await BrokerHost.StartAsync(directory: directory);
            using var http = restarted.CreateHttpClient();
            var snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/orders").DefaultTimeout();
            Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(acked.Count), "every acked line, and nothing else, was committed");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
