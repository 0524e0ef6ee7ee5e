using System.Globalization;
using TopicBroker.Testing;

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

        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var (port, server) = await ServerProcess.StartOnFreePortAsync(
                ReadyLine, 40_000, 50_000,
                port => [Binary, "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]).ConfigureAwait(false);
            return new RedisProcess(port, server);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            throw new BenchSetupException($"redis-server did not start: {ex.Message}", ex);
        }
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
