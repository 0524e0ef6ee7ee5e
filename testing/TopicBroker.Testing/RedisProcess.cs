using System.Globalization;

namespace TopicBroker.Testing;

/// <summary>
/// A private <c>redis-server</c> as a child process, nothing persisted, for the cluster tests and
/// the bench's cluster scenario: on a loopback port drawn from a range below the ephemeral ports
/// and retried if taken (its <c>--port 0</c> turns TCP off rather than picking a port). Killed on
/// dispose; <see cref="RestartAsync"/> brings it back on the same port.
/// </summary>
public sealed class RedisProcess : IAsyncDisposable
{
    /// <summary>The server binary; its absence means the Debian package <c>redis-server</c> is missing.</summary>
    public const string Binary = "/usr/bin/redis-server";

    private const string ReadyLine = "Ready to accept connections";

    private ServerProcess _server;

    private RedisProcess(int port, ServerProcess server)
    {
        Port = port;
        _server = server;
    }

    public int Port { get; }

    public int ProcessId => _server.Id;

    /// <summary>The StackExchange.Redis configuration string (for <c>Broker:Cluster:Redis</c>).</summary>
    public string Configuration => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public static async Task<RedisProcess> StartAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"redis-server is not installed ({Binary}): apt-get install redis-server.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var (port, server) = await ServerProcess.StartOnFreePortAsync(ReadyLine, 12_000, 20_000, Command).ConfigureAwait(false);
        return new RedisProcess(port, server);
    }

    /// <summary>SIGKILL, as a crash; <see cref="RestartAsync"/> brings it back.</summary>
    public Task KillAsync() => _server.DisposeAsync().AsTask();

    /// <summary>Starts it again on the same port, after <see cref="KillAsync"/>.</summary>
    public async Task RestartAsync() => _server = await ServerProcess.StartReadyAsync(ReadyLine, Command(Port)).ConfigureAwait(false);

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static string[] Command(int port) =>
        [Binary, "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
}
