using System.Net.Http.Json;
using System.Text.Json;

namespace TopicBroker.Tests.Sites;

/// <summary>
/// Head-office and restaurant brokers as child processes, each with its own folder, for the
/// replication scenarios of protocol.md "Sites and upstream replication". A head office restarts
/// on the port it first had, as a real one keeps its address.
/// </summary>
internal sealed class SiteBrokers : IAsyncDisposable
{
    private readonly List<BrokerProcess> _processes = [];
    private readonly List<string> _directories = [];

    public async Task<BrokerProcess> StartHeadOfficeAsync(string name, int port = 0, params string[] extraArgs)
    {
        var args = new List<string> { "--Broker:Sites:Enabled=true", "--Broker:Samples:Enabled=false" };
        if (port != 0)
        {
            args.Add($"--Urls=http://127.0.0.1:{port}");
        }

        return await StartAsync(name, [.. args, .. extraArgs]);
    }

    public Task<BrokerProcess> StartRestaurantAsync(string name, string site, Uri headOffice, params string[] extraArgs) =>
        StartAsync(name, ["--Broker:Samples:Enabled=false", $"--Broker:Upstream:Url={headOffice}", $"--Broker:Upstream:Site={site}",
            "--Broker:Upstream:ReconnectDelay=00:00:00.100", "--Broker:Upstream:MaxReconnectDelay=00:00:00.500", .. extraArgs]);

    public void Forget(BrokerProcess process) => _processes.Remove(process);

    private async Task<BrokerProcess> StartAsync(string name, string[] args)
    {
        var directory = DirectoryFor(name);
        var process = await BrokerProcess.StartAsync(directory, args);
        _processes.Add(process);
        return process;
    }

    private string DirectoryFor(string name)
    {
        var root = _directories.Count > 0 ? Path.GetDirectoryName(_directories[0])! : Directory.CreateTempSubdirectory("topicbroker-sites-").FullName;
        var directory = Path.Combine(root, name);
        if (!_directories.Contains(directory))
        {
            Directory.CreateDirectory(directory);
            _directories.Add(directory);
        }

        return directory;
    }

    public static async Task<JsonElement> GetJsonAsync(BrokerProcess broker, string path)
    {
        using var http = new HttpClient { BaseAddress = broker.HttpUri };
        return await http.GetFromJsonAsync<JsonElement>(path).DefaultTimeout();
    }

    public static async Task<TestWebSocket> SubscribeAsync(BrokerProcess broker, string topic, long? since = null)
    {
        var socket = new TestWebSocket();
        var ws = new UriBuilder(broker.HttpUri) { Scheme = "ws", Path = "/ws/" + topic, Query = since is null ? "" : "since=" + since }.Uri;
        await socket.ConnectAsync(ws).DefaultTimeout();
        return socket;
    }

    /// <summary>Reads update and snapshot frames (pings skipped) until one carries <paramref name="seq"/>.</summary>
    public static async Task<List<JsonElement>> ReceiveUntilSeqAsync(TestWebSocket socket, long seq, TimeSpan? timeout = null)
    {
        var frames = new List<JsonElement>();
        while (true)
        {
            var frame = await socket.ReceiveFrameAsync(timeout ?? TimeSpan.FromSeconds(60));
            var type = frame.GetProperty("type").GetString();
            if (type is not ("update" or "snapshot"))
            {
                continue;
            }

            frames.Add(frame);
            if (frame.GetProperty("seq").GetInt64() >= seq)
            {
                return frames;
            }
        }
    }

    /// <summary>The snapshot frame of a topic, as the HTTP API gives it.</summary>
    public static Task<JsonElement> SnapshotAsync(BrokerProcess broker, string topic) => GetJsonAsync(broker, "/api/topics/" + topic);

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_directories.Count > 0)
        {
            try
            {
                Directory.Delete(Path.GetDirectoryName(_directories[0])!, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
