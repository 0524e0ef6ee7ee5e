namespace TopicBroker.Tests.Samples;

/// <summary>
/// A broker that a test restarts under open pages. The SQLite folder belongs to this object, so
/// the database (entities, seqs and the resume history) outlives each broker; every restart
/// listens on the first broker's HTTP port, where the pages reconnect by themselves.
/// </summary>
internal sealed class RestartingBroker : IAsyncDisposable
{
    // Pages come back within 200 ms of the shutdown frame rather than the default 5 s spread.
    // No periodic rebroadcast during a test: its snapshot would repaint a page whose resume had failed.
    private static readonly Dictionary<string, string?> s_settings = new()
    {
        ["Broker:ShutdownReconnectSpread"] = "00:00:00.200",
        ["Broker:PollingInterval"] = "00:10:00",
    };

    private readonly string _directory;
    private readonly int _httpPort;
    private readonly Dictionary<string, string?> _settings;
    private BrokerHost? _current;

    private RestartingBroker(string directory, Dictionary<string, string?> settings, BrokerHost first)
    {
        _directory = directory;
        _settings = settings;
        _current = first;
        _httpPort = first.HttpPort;
    }

    public bool IsRunning => _current is not null;

    /// <summary>The running broker; a test that asks while it is stopped has a bug.</summary>
    public BrokerHost Current => _current ?? throw new InvalidOperationException("The broker is stopped.");

    /// <param name="settings">More settings (or other values) for every start but the "while away" one.</param>
    public static async Task<RestartingBroker> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var directory = Directory.CreateTempSubdirectory("topicbroker-samples-").FullName;
        var all = new Dictionary<string, string?>(s_settings);
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        try
        {
            return new RestartingBroker(directory, all, await BrokerHost.StartAsync(all, directory));
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>A page of the samples site (served by whichever broker is running).</summary>
    public string PageUrl(string path = "") => $"http://127.0.0.1:{_httpPort}/{path}";

    /// <summary>Graceful stop, as on SIGTERM: pages get a shutdown frame, then a 1001 close.</summary>
    public async Task StopAsync()
    {
        var broker = Current;
        _current = null;
        await broker.StopAsync();
        await broker.DisposeAsync();
    }

    /// <summary>
    /// Publishes bridge lines while the pages cannot reach any broker: a broker on the same
    /// database but on a port the pages do not know commits them. The pages certainly miss these
    /// changes, so they can only show them by resuming. Returns the seq of the last line.
    /// </summary>
    public async Task<long> PublishWhileAwayAsync(params string[] lines)
    {
        Assert.That(_current, Is.Null, "publishing 'while away' needs the broker stopped");
        // The base settings only: this broker is the test's own back door, without auth.
        await using var away = await BrokerHost.StartAsync(s_settings, _directory);
        await using var bridge = await away.ConnectBridgeAsync();
        return await bridge.PublishEachAsync(lines);
    }

    /// <summary>Starts the broker again on the same HTTP port and database.</summary>
    public async Task RestartAsync()
    {
        Assert.That(_current, Is.Null, "the broker is still running");
        _current = await BrokerHost.StartAsync(_settings, _directory, _httpPort);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_current is not null)
            {
                await _current.DisposeAsync();
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
