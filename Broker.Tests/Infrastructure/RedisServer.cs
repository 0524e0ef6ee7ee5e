namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// A private <c>redis-server</c> for the test run, on a loopback port chosen from a range below
/// the ephemeral ports and retried if taken (its <c>--port 0</c> turns TCP off rather than picking
/// a port), with nothing persisted. Tests that kill it restart it on the same port.
/// </summary>
internal sealed class RedisServer
{
    private const string Binary = "/usr/bin/redis-server";
    private const string ReadyLine = "Ready to accept connections";
    private static readonly SharedServer<RedisServer> s_shared = new(StartAsync, server => server.StopAsync().AsTask());
    private ServerProcess _server;

    private RedisServer(int port, ServerProcess server)
    {
        Port = port;
        _server = server;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    public static Task<RedisServer> SharedAsync() => s_shared.GetAsync();

    public static Task StopSharedAsync() => s_shared.StopAsync();

    /// <summary>A server of the test's own (for tests that kill it), stopped when disposed.</summary>
    public static Task<RedisServer> StartPrivateAsync() => StartAsync();

    public ValueTask StopAsync() => _server.DisposeAsync();

    public async Task KillAsync() => await _server.DisposeAsync();

    public async Task RestartAsync() => _server = await ServerProcess.StartReadyAsync(ReadyLine, Command(Port));

    private static async Task<RedisServer> StartAsync()
    {
        await SystemPackages.RequireAsync(Binary, "redis-server");
        var (port, server) = await ServerProcess.StartOnFreePortAsync(ReadyLine, 12_000, 20_000, Command);
        return new RedisServer(port, server);
    }

    private static string[] Command(int port) =>
        [Binary, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
}
