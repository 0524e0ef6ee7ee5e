using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;
using TopicBroker.Hosting;
using TopicBroker.Ingest;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// The real broker for a test: Kestrel on 127.0.0.1 port 0 (read back after start), the TCP bridge
/// on port 0, and a SQLite file in a temp folder. Errors the broker logs fail the test on dispose
/// unless the test said it expects them.
/// </summary>
internal sealed class BrokerHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CapturingSink _logs;
    private readonly bool _ownsDirectory;
    private bool _stopped;

    private BrokerHost(WebApplication app, CapturingSink logs, string directory, bool ownsDirectory)
    {
        _app = app;
        _logs = logs;
        Directory = directory;
        _ownsDirectory = ownsDirectory;
    }

    public string Directory { get; }

    public string DatabasePath => Path.Combine(Directory, "broker.db");

    public Uri HttpUri { get; private set; } = null!;

    public int HttpPort => HttpUri.Port;

    public IServiceProvider Services => _app.Services;

    public IReadOnlyCollection<LogEvent> LogEvents => _logs.Events;

    /// <summary>Errors a test provokes on purpose (an unwritable database) and so must not fail it.</summary>
    public bool AllowErrorLogs { get; set; }

    public static async Task<BrokerHost> StartAsync(
        IDictionary<string, string?>? settings = null,
        string? directory = null,
        int httpPort = 0,
        Action<IServiceCollection>? services = null)
    {
        var ownsDirectory = directory is null;
        directory ??= System.IO.Directory.CreateTempSubdirectory("topicbroker-test-").FullName;
        var config = new Dictionary<string, string?>
        {
            ["Urls"] = $"http://127.0.0.1:{httpPort}",
            ["Broker:Database"] = Path.Combine(directory, "broker.db"),
            ["Broker:TcpBridge:Port"] = "0",
            ["Broker:Synchronous"] = "Normal",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            // Connection lifecycle events are signals some tests wait on.
            ["Serilog:MinimumLevel:Override:TopicBroker"] = "Debug",
            ["Serilog:WriteTo:0:Name"] = "Console",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        var logs = new CapturingSink();
        var app = BrokerApplication.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(config);
            builder.Services.AddSingleton<ILogEventSink>(logs);
            // For example a FakeTimeProvider, which the broker then uses instead of the system clock.
            services?.Invoke(builder.Services);
        });
        var host = new BrokerHost(app, logs, directory, ownsDirectory);
        try
        {
            await app.StartAsync().DefaultTimeout();
        }
        catch
        {
            host._stopped = true;
            host.AllowErrorLogs = true;
            await host.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        host.HttpUri = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return host;
    }

    public T Get<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    public Uri WebSocketUri(string topic, string? query = null) =>
        new($"ws://127.0.0.1:{HttpPort}/ws/{topic}{(query is null ? "" : "?" + query)}");

    public async Task<TestWebSocket> ConnectAsync(string topic, string? query = null)
    {
        var client = new TestWebSocket();
        await client.ConnectAsync(WebSocketUri(topic, query)).DefaultTimeout();
        return client;
    }

    /// <summary>Publishes through the same pipeline the bridge and HTTP use, and returns the committed seq.</summary>
    public async Task<long> PublishAsync(string topic, string id, string? json)
    {
        Assert.That(Get<TopicRegistry>().TryGet(topic, out var state), Is.True, $"topic {topic}");
        var data = json is null ? null : Encoding.UTF8.GetBytes(json);
        var result = await Get<IngestPipeline>().PublishAsync(new InboundChange(state!, id, data), CancellationToken.None).DefaultTimeout();
        Assert.That(result.Ok, Is.True, result.Message);
        return result.Seq;
    }

    public IPEndPoint BridgeEndPoint => Get<BridgeListener>().LocalEndPoint!;

    public Task<TestBridgeClient> ConnectBridgeAsync() => TestBridgeClient.ConnectAsync(BridgeEndPoint);

    /// <summary>A connection of the test's own to the broker's SQLite file, as another program would open it.</summary>
    public Microsoft.Data.Sqlite.SqliteConnection OpenDatabase()
    {
        var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var busy = connection.CreateCommand();
        busy.CommandText = "PRAGMA busy_timeout = 10000";
        busy.ExecuteNonQuery();
        return connection;
    }

    public HttpClient CreateHttpClient() => new() { BaseAddress = HttpUri };

    /// <summary>Graceful stop, as on SIGTERM.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await _app.StopAsync().DefaultTimeout(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
        if (_ownsDirectory)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        if (!AllowErrorLogs)
        {
            var errors = _logs.Events.Where(e => e.Level >= LogEventLevel.Error).ToList();
            Assert.That(errors, Is.Empty, "the broker logged errors:\n" + string.Join("\n", errors.Select(e => e.RenderMessage() + " " + e.Exception)));
        }
    }

    /// <summary>
    /// Waits for the broker to log an event matching <paramref name="match"/> (already logged ones
    /// count), or only one logged after the first <paramref name="skip"/> (a count of <see cref="LogEvents"/> taken earlier).
    /// </summary>
    public Task WaitForLogAsync(Func<LogEvent, bool> match, int skip = 0) => _logs.WaitForAsync(match, skip);

    private sealed class CapturingSink : ILogEventSink
    {
        private readonly EventRecorder<LogEvent> _events = new();

        public IReadOnlyList<LogEvent> Events => _events.Snapshot();

        public void Emit(LogEvent logEvent) => _events.Add(logEvent);

        public Task WaitForAsync(Func<LogEvent, bool> match, int skip) => _events.WaitForAsync(match, skip);
    }
}
