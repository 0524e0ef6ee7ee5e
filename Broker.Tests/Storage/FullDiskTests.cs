using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;

namespace TopicBroker.Tests.Storage;

/// <summary>
/// The store on a real filesystem that fills up: a small tmpfs the test mounts as root
/// (protocol.md "Faults"). Skipped, with the reason, where mounting is not allowed.
/// </summary>
[NonParallelizable]
public sealed class FullDiskTests
{
    private string _mount = null!;
    private bool _mounted;

    [SetUp]
    public void MountSmallFilesystem()
    {
        if (Environment.UserName != "root")
        {
            Assert.Ignore("needs root to mount a small tmpfs");
        }

        _mount = Directory.CreateTempSubdirectory("topicbroker-fulldisk-").FullName;
        var (code, error) = Run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", _mount);
        if (code != 0)
        {
            Directory.Delete(_mount);
            Assert.Ignore($"mount -t tmpfs is not permitted here: {error}");
        }

        _mounted = true;
    }

    [TearDown]
    public void Unmount()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_mounted)
        {
            Run("umount", "-l", _mount);
            Directory.Delete(_mount, recursive: true);
        }
    }

    [Test]
    public async Task FullDisk_PublishesAreUnavailable_SubscribersStayServed_ReadySays503_AndAfterFreeingTheNextSeqCommits()
    {
        await using var broker = await BrokerHost.StartAsync(directory: _mount);
        broker.AllowErrorLogs = true; // the failed commits are logged at Error, as they should be
        await using var bridge = await broker.ConnectBridgeAsync();
        var acked = new List<(string Id, long Seq)>();
        for (var i = 0; i < 5; i++)
        {
            acked.Add(($"o{i}", await bridge.PublishAsync($$$"""{"topic":"orders","id":"o{{{i}}}","data":{"n":{{{i}}}}}""")));
        }

        await using var subscriber = await broker.ConnectAsync("orders");
        await subscriber.ReceiveFrameAsync("snapshot");
        var filler = Path.Combine(_mount, "filler");
        FillUntilFull(filler);

        var big = new string('x', 32 * 1024);
        await bridge.SendLineAsync($$$"""{"topic":"orders","id":"big","data":{"pad":"{{{big}}}"}}""");
        var answer = (await bridge.ReadAnswerAsync())!.Value;
        Assert.That((answer.GetProperty("ok").GetBoolean(), answer.GetProperty("error").GetString()), Is.EqualTo((false, "unavailable")));
        using var http = broker.CreateHttpClient();
        var ready = await http.GetAsync("/ready").DefaultTimeout();
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        var health = await ready.Content.ReadFromJsonAsync<JsonElement>().DefaultTimeout();
        Assert.That(health.GetProperty("entries").GetProperty("store").GetProperty("status").GetString(), Is.EqualTo("Unhealthy"));
        Assert.That(health.GetProperty("entries").GetProperty("store").GetProperty("description").GetString(), Does.Contain("commit failed"));
        await using (var newcomer = await broker.ConnectAsync("orders"))
        {
            var snapshot = await newcomer.ReceiveFrameAsync("snapshot");
            Assert.That(snapshot.GetProperty("seq").GetInt64(), Is.EqualTo(acked[^1].Seq), "served from memory, nothing unacked");
            Assert.That(snapshot.GetProperty("data").TryGetProperty("big", out _), Is.False);
        }

        Assert.That(subscriber.Socket.State, Is.EqualTo(WebSocketState.Open));

        File.Delete(filler);
        var next = await bridge.PublishAsync("""{"topic":"orders","id":"after","data":{}}""");

        Assert.That(next, Is.EqualTo(acked[^1].Seq + 1), "the failed publish took no seq");
        Assert.That((await subscriber.ReceiveFrameAsync("update")).GetProperty("id").GetString(), Is.EqualTo("after"), "the big one never reached a subscriber");
        using var db = broker.OpenDatabase();
        using var query = db.CreateCommand();
        query.CommandText = "SELECT id, seq FROM entities WHERE topic = 'orders' ORDER BY seq";
        var stored = new List<(string, long)>();
        using (var reader = query.ExecuteReader())
        {
            while (reader.Read())
            {
                stored.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }

        Assert.That(stored, Is.EqualTo(acked.Append(("after", next)).ToList()), "every acked change is in the store, and only those");
    }

    private static void FillUntilFull(string path)
    {
        var block = new byte[64 * 1024];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        try
        {
            while (true)
            {
                file.Write(block);
            }
        }
        catch (IOException)
        {
            // No space left on the device, as intended; write what fits byte-wise too.
        }

        try
        {
            while (true)
            {
                file.Write(block.AsSpan(0, 512));
            }
        }
        catch (IOException)
        {
        }
    }

    private static (int Code, string Error) Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error.Trim());
    }
}
