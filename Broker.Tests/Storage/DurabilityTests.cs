using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Tests.Storage;

public sealed class DurabilityTests
{
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("topicbroker-durability-").FullName;

    [TearDown]
    public void DeleteDirectory()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Test]
    public async Task Restart_KeepsStateAndSeq()
    {
        await using (var first = await BrokerHost.StartAsync(directory: _directory))
        {
            await first.PublishAsync("robots", "robot-1", """{"battery":80}""");
            await first.PublishAsync("robots", "robot-2", """{"battery":70}""");
            await first.PublishAsync("robots", "robot-2", null);
            await first.PublishAsync("robots", "robot-3", """{"battery":60}""");
        }

        await using var second = await BrokerHost.StartAsync(directory: _directory);
        await using var client = await second.ConnectAsync("robots");
        var snapshot = await client.ReceiveFrameAsync("snapshot");

        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(4));
        var data = snapshot.GetProperty("data");
        Assert.That(data.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "robot-1", "robot-3" }));
        Assert.That(data.GetProperty("robot-3").GetProperty("battery").GetInt32(), Is.EqualTo(60));
        Assert.That(await second.PublishAsync("robots", "robot-4", "{}"), Is.EqualTo(5), "seq continues, never reused");
    }

    [Test]
    public async Task Since_ReplaysExactlyTheMissedUpdates_ThenLiveOnes()
    {
        await using var broker = await BrokerHost.StartAsync(directory: _directory);
        for (var i = 1; i <= 5; i++)
        {
            await broker.PublishAsync("orders", $"o{i}", $$"""{"n":{{i}}}""");
        }

        await using var client = await broker.ConnectAsync("orders", "since=2");
        for (var seq = 3; seq <= 5; seq++)
        {
            var frame = await client.ReceiveFrameAsync();
            Assert.That(frame.GetProperty("type").GetString(), Is.EqualTo("update"), "no snapshot when resuming");
            Assert.That(frame.GetProperty("seq").GetInt64(), Is.EqualTo(seq));
        }

        await broker.PublishAsync("orders", "o6", "{}");
        var live = await client.ReceiveFrameAsync();
        Assert.That(live.GetProperty("seq").GetInt64(), Is.EqualTo(6), "no gap, no duplicate");
    }

    [Test]
    public async Task SinceCurrentSeq_ReplaysNothing_AndLiveUpdatesFollow()
    {
        await using var broker = await BrokerHost.StartAsync(directory: _directory);
        await broker.PublishAsync("orders", "o1", "{}");
        await using var client = await broker.ConnectAsync("orders", "since=1");

        await broker.PublishAsync("orders", "o2", "{}");

        var frame = await client.ReceiveFrameAsync();
        Assert.That(frame.GetProperty("type").GetString(), Is.EqualTo("update"));
        Assert.That(frame.GetProperty("seq").GetInt64(), Is.EqualTo(2));
    }

    [TestCase("since=1", Description = "older than the history")]
    [TestCase("since=99", Description = "newer than the topic: another database")]
    [TestCase("since=abc", Description = "not a number")]
    public async Task SinceOutOfReach_FallsBackToSnapshot(string query)
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:HistorySize"] = "3" }, _directory);
        for (var i = 1; i <= 10; i++)
        {
            await broker.PublishAsync("orders", $"o{i}", "{}");
        }

        await using var client = await broker.ConnectAsync("orders", query);
        var frame = await client.ReceiveFrameAsync();

        Assert.That(frame.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        Assert.That(frame.GetProperty("seq").GetInt64(), Is.EqualTo(10));
        Assert.That(frame.GetProperty("data").EnumerateObject().Count(), Is.EqualTo(10));
    }

    [Test]
    public async Task Since_WorksAcrossRestart_FromTheStoredHistory_WhichIsTrimmedToHistorySize()
    {
        var settings = new Dictionary<string, string?> { ["Broker:HistorySize"] = "5" };
        await using (var first = await BrokerHost.StartAsync(settings, _directory))
        {
            for (var i = 1; i <= 8; i++)
            {
                await first.PublishAsync("tables", "T1", $$"""{"n":{{i}}}""");
            }

            using var db = first.OpenDatabase();
            using var count = db.CreateCommand();
            count.CommandText = "SELECT MIN(seq), COUNT(*) FROM updates WHERE topic = 'tables'";
            using var row = count.ExecuteReader();
            row.Read();
            Assert.That((row.GetInt64(0), row.GetInt64(1)), Is.EqualTo((4L, 5L)), "history keeps the newest 5");
        }

        await using var second = await BrokerHost.StartAsync(settings, _directory);
        await using var client = await second.ConnectAsync("tables", "since=5");
        for (var seq = 6; seq <= 8; seq++)
        {
            var frame = await client.ReceiveFrameAsync();
            Assert.That(frame.GetProperty("type").GetString(), Is.EqualTo("update"));
            Assert.That(frame.GetProperty("seq").GetInt64(), Is.EqualTo(seq));
            Assert.That(frame.GetProperty("data").GetProperty("n").GetInt32(), Is.EqualTo(seq));
        }
    }

    [Test]
    public async Task ExternalWrites_AreBroadcastByThePoll_WithNewSeqs()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:PollingInterval"] = "00:00:00.200" }, _directory);
        await broker.PublishAsync("tables", "T1", """{"state":"free"}""");
        await broker.PublishAsync("tables", "T2", """{"state":"free"}""");
        await using var client = await broker.ConnectAsync("tables");
        await client.ReceiveFrameAsync("snapshot");
        using var db = broker.OpenDatabase();

        Execute(db, """INSERT OR REPLACE INTO entities (topic, id, data, seq) VALUES ('tables', 'T9', '{"state":"seated"}', NULL)""");
        var inserted = await client.ReceiveFrameAsync("update");
        Execute(db, """UPDATE entities SET data = '{"state":"waiting"}' WHERE topic = 'tables' AND id = 'T1'""");
        var updated = await client.ReceiveFrameAsync("update");
        Execute(db, "DELETE FROM entities WHERE topic = 'tables' AND id = 'T2'");
        var deleted = await client.ReceiveFrameAsync("update");

        Assert.That((inserted.GetProperty("id").GetString(), inserted.GetProperty("seq").GetInt64()), Is.EqualTo(("T9", 3L)));
        Assert.That(inserted.GetProperty("data").GetProperty("state").GetString(), Is.EqualTo("seated"));
        Assert.That((updated.GetProperty("id").GetString(), updated.GetProperty("seq").GetInt64()), Is.EqualTo(("T1", 4L)));
        Assert.That(updated.GetProperty("data").GetProperty("state").GetString(), Is.EqualTo("waiting"));
        Assert.That((deleted.GetProperty("id").GetString(), deleted.GetProperty("op").GetString()), Is.EqualTo(("T2", "delete")));
        Assert.That(deleted.GetProperty("seq").GetInt64(), Is.EqualTo(5));
        Assert.That(Scalar(db, "SELECT COUNT(*) FROM entities WHERE seq IS NULL"), Is.EqualTo(0L), "every external row was given a seq");
        Assert.That(Scalar(db, "SELECT COUNT(*) FROM external_deletes"), Is.EqualTo(0L));
        Assert.That(await broker.PublishAsync("tables", "T1", "{}"), Is.EqualTo(6));
    }

    [Test]
    public async Task ExternalWrites_MadeWhileTheBrokerWasDown_AppearRightAfterStart_WithNewSeqs()
    {
        await using (var first = await BrokerHost.StartAsync(directory: _directory))
        {
            await first.PublishAsync("tables", "T1", """{"state":"free"}""");
            await first.PublishAsync("tables", "T2", """{"state":"free"}""");
        }

        // Another program writes while the broker is stopped: an insert, an update, a delete.
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_directory, "broker.db")};Pooling=False"))
        {
            db.Open();
            Execute(db, """INSERT INTO entities (topic, id, data, seq) VALUES ('tables', 'T9', '{"state":"seated"}', NULL)""");
            Execute(db, """UPDATE entities SET data = '{"state":"waiting"}' WHERE topic = 'tables' AND id = 'T1'""");
            Execute(db, "DELETE FROM entities WHERE topic = 'tables' AND id = 'T2'");
        }

        // No poll but the start-up one can run within the test (docs/operations.md "SQLite schema and external writers").
        await using var second = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:PollingInterval"] = "01:00:00" }, _directory);
        // since=2 gets the start-up poll's changes either from the history or live, whichever comes first.
        await using var client = await second.ConnectAsync("tables", "since=2");
        var changes = new List<(long Seq, string? Id, string? Op, string? State)>();
        for (var i = 0; i < 3; i++)
        {
            var frame = await client.ReceiveFrameAsync("update");
            var data = frame.GetProperty("data");
            changes.Add((frame.GetProperty("seq").GetInt64(), frame.GetProperty("id").GetString(), frame.GetProperty("op").GetString(),
                data.ValueKind == JsonValueKind.Object ? data.GetProperty("state").GetString() : null));
        }

        Assert.That(changes.Select(c => c.Seq), Is.EqualTo(new long[] { 3, 4, 5 }), "new seqs, in order");
        Assert.That(changes.Select(c => (c.Id, c.Op, c.State)), Is.EquivalentTo(new[]
        {
            ("T9", "upsert", "seated"), ("T1", "upsert", "waiting"), ((string?)"T2", (string?)"delete", (string?)null),
        }));
        using var http = second.CreateHttpClient();
        var snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/tables").DefaultTimeout();
        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(5));
        Assert.That(snapshot.GetProperty("data").EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "T1", "T9" }));
    }

    [Test]
    public async Task ExternalDelete_SettledByANewerWrite_IsNeverReplayedLater()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:PollingInterval"] = "00:00:00.200" }, _directory);
        await broker.PublishAsync("tables", "T4", """{"state":"free"}""");
        await broker.PublishAsync("orders", "order-12", """{"status":"new"}""");
        await using var tables = await broker.ConnectAsync("tables");
        await using var orders = await broker.ConnectAsync("orders");
        await tables.ReceiveFrameAsync("snapshot");
        await orders.ReceiveFrameAsync("snapshot");
        using var db = broker.OpenDatabase();

        // Another program deletes and re-inserts T4 in one go: the poll sees one upsert.
        Execute(db, "BEGIN; DELETE FROM entities WHERE topic = 'tables' AND id = 'T4'; " +
                    """INSERT INTO entities (topic, id, data, seq) VALUES ('tables', 'T4', '{"state":"seated"}', NULL); COMMIT;""");
        Assert.That((await tables.ReceiveFrameAsync("update")).GetProperty("op").GetString(), Is.EqualTo("upsert"));
        // It deletes order-12; the broker broadcasts that; then a robot publishes order-12 anew.
        Execute(db, "DELETE FROM entities WHERE topic = 'orders' AND id = 'order-12'");
        Assert.That((await orders.ReceiveFrameAsync("update")).GetProperty("op").GetString(), Is.EqualTo("delete"));
        await broker.PublishAsync("orders", "order-12", """{"status":"cooking"}""");
        Assert.That((await orders.ReceiveFrameAsync("update")).GetProperty("op").GetString(), Is.EqualTo("upsert"));

        // Any later external write makes the poll look again: no stale tombstone may fire.
        Execute(db, """INSERT INTO entities (topic, id, data, seq) VALUES ('tables', 'T9', '{"state":"free"}', NULL)""");
        Assert.That((await tables.ReceiveFrameAsync("update")).GetProperty("id").GetString(), Is.EqualTo("T9"));
        await broker.PublishAsync("orders", "marker", "{}");
        var next = await orders.ReceiveFrameAsync("update");
        Assert.That(next.GetProperty("id").GetString(), Is.EqualTo("marker"), "no delete of order-12 came before the marker");
        Assert.That(Scalar(db, "SELECT COUNT(*) FROM external_deletes"), Is.EqualTo(0L));
        Assert.That(Scalar(db, "SELECT COUNT(*) FROM entities WHERE topic = 'tables' AND id = 'T4'"), Is.EqualTo(1L));
    }

    [Test]
    public async Task QuietRebroadcastTopic_IsRebroadcastAsSnapshot_ToItsSubscribers()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:PollingInterval"] = "00:00:00.200" }, _directory);
        await broker.PublishAsync("robots", "robot-1", """{"battery":42}""");
        await using var client = await broker.ConnectAsync("robots");
        await client.ReceiveFrameAsync("snapshot");

        var rebroadcast = await client.ReceiveFrameAsync("snapshot");

        Assert.That(rebroadcast.GetProperty("seq").GetInt64(), Is.EqualTo(1));
        Assert.That(rebroadcast.GetProperty("data").GetProperty("robot-1").GetProperty("battery").GetInt32(), Is.EqualTo(42));
    }

    [Test]
    public async Task ForcedKill_DuringIngest_KeepsEveryAckedUpdate()
    {
        const int total = 200_000;
        var acked = 0;
        await using (var child = await BrokerProcess.StartAsync(_directory))
        {
            await using var bridge = await TestBridgeClient.ConnectAsync(child.BridgeEndPoint);
            var sending = Task.Run(async () =>
            {
                try
                {
                    for (var start = 0; start < total; start += 500)
                    {
                        var chunk = new StringBuilder();
                        for (var i = start; i < start + 500; i++)
                        {
                            chunk.Append($$$"""{"topic":"robots","id":"u{{{i}}}","data":{"i":{{{i}}}}}""").Append('\n');
                        }

                        await bridge.SendRawAsync(Encoding.UTF8.GetBytes(chunk.ToString()));
                    }
                }
                catch (Exception ex) when (ex is IOException or TimeoutException or ObjectDisposedException)
                {
                    // The broker died under the writer, as intended.
                }
            });

            // Kill it mid-stream, after a few thousand acks, while lines are still pouring in.
            while (acked < 5_000)
            {
                Assert.That(await bridge.ReadAckAsync(), Is.EqualTo(acked + 1));
                acked++;
            }

            await child.KillAsync();
            try
            {
                while (await bridge.ReadAnswerAsync() is { } answer && answer.GetProperty("ok").GetBoolean())
                {
                    acked++;
                }
            }
            catch (IOException)
            {
            }

            await sending.DefaultTimeout(TimeSpan.FromSeconds(60));
        }

        Assert.That(acked, Is.LessThan(total), "the kill came during ingest");
        await using var restarted = await BrokerHost.StartAsync(directory: _directory);
        using var http = restarted.CreateHttpClient();
        var snapshot = await http.GetFromJsonAsync<JsonElement>("/api/topics/robots").DefaultTimeout();
        var data = snapshot.GetProperty("data");
        var missing = Enumerable.Range(0, acked).Where(i => !data.TryGetProperty($"u{i}", out _)).ToList();
        Assert.That(missing, Is.Empty, $"of {acked} acked updates");
        Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.GreaterThanOrEqualTo(acked));
        Assert.That(await restarted.PublishAsync("robots", "after", "{}"), Is.EqualTo(snapshot.GetProperty("seq").GetInt64() + 1));
    }

    private static void Execute(Microsoft.Data.Sqlite.SqliteConnection db, string sql)
    {
        using var command = db.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(Microsoft.Data.Sqlite.SqliteConnection db, string sql)
    {
        using var command = db.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
