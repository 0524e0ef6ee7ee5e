namespace TopicBroker.Tests.Cluster;

/// <summary>
/// Brokers in cluster mode as real child processes, on one PostgreSQL database and one Redis
/// channel of their own (so tests sharing the run's servers never see each other's traffic).
/// </summary>
internal sealed class ClusterNodes : IAsyncDisposable
{
    private readonly List<(BrokerProcess Process, string Directory)> _nodes = [];
    private readonly PostgresServer _postgres;

    private ClusterNodes(PostgresServer postgres, string connectionString, string redis)
    {
        _postgres = postgres;
        ConnectionString = connectionString;
        Redis = redis;
    }

    public string ConnectionString { get; }

    public string Redis { get; }

    public string Channel { get; } = "test-" + Guid.NewGuid().ToString("N")[..12];

    public static async Task<ClusterNodes> CreateAsync(PostgresServer postgres, string redis) =>
        new(postgres, await postgres.CreateDatabaseAsync(), redis);

    /// <summary>Starts a node; <paramref name="settings"/> are further <c>--Key=Value</c> arguments.</summary>
    public async Task<BrokerProcess> StartNodeAsync(string nodeId, params string[] settings)
    {
        var directory = Directory.CreateTempSubdirectory("topicbroker-node-").FullName;
        var process = await BrokerProcess.StartAsync(directory,
        [
            "--Broker:Storage:Provider=Postgres",
            $"--Broker:Storage:ConnectionString={ConnectionString}",
            $"--Broker:Cluster:Redis={Redis}",
            $"--Broker:Cluster:NodeId={nodeId}",
            $"--Broker:Cluster:Channel={Channel}",
            "--Broker:Samples:Enabled=false",
            "--Serilog:MinimumLevel:Default=Warning",
            "--Serilog:MinimumLevel:Override:Microsoft.Hosting.Lifetime=Information",
            "--Serilog:MinimumLevel:Override:TopicBroker.Ingest.BridgeListener=Information",
            .. settings,
        ]);
        _nodes.Add((process, directory));
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (process, directory) in _nodes)
        {
            await process.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }

        await _postgres.DropDatabaseAsync(ConnectionString);
    }
}
