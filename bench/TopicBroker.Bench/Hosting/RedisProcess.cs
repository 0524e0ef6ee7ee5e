using System.Globalization;

namespace TopicBroker.Bench.Hosting;

/// <summary>
/// A private <c>redis-server</c> for the cluster scenario (the tests' RedisServer.cs commands): a
/// loopback port picked from a range and retried if taken, nothing persisted; killed on dispose.
/// </summary>
internal sealed class RedisProcess : IAsyncDisposable
{
    private const string Binary = "/usr/bin/redis-server";
    private const string ReadyLine = "Ready to accept connections";

    private readonly ServerProcess _server;

    private RedisProcess(int port, ServerProcess server)
    {
        Port = port;
        _server = server;
    }

    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string for Broker:Cluster:Redis.</summary>
    public string Configuration => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public static async Task<RedisProcess> StartAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Binary))
        {
            throw new BenchSetupException($"redis-server is not installed ({Binary}): apt-get install redis-server.");
        }

        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(40_000, 50_000);
            var (ready, server) = await ServerProcess.StartAsync(
                ReadyLine,
                [Binary, "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                cancellationToken).ConfigureAwait(false);
            if (ready)
            {
                return new RedisProcess(port, server);
            }

            var output = server.Output;
            await server.DisposeAsync().ConfigureAwait(false);
            if (attempt >= 10)
            {
                throw new BenchSetupException($"redis-server did not start: {output}");
            }
        }
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
