namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// A private <c>redis-server</c> for the test run, on a loopback port chosen from a range and
/// retried if taken, with nothing persisted. Tests that kill it restart it on the same port.
/// </summary>
internal sealed class RedisServer
{
    private const string Binary = "/usr/bin/redis-server";
    private const string ReadyLine = "Ready to accept connections";
    private static readonly SemaphoreSlim SharedGate = new(1, 1);
    private static RedisServer? s_shared;
    private ServerProcess _server;

    private RedisServer(int port, ServerProcess server)
    {
        Port = port;
        _server = server;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> SharedAsync()
    {
        await SharedGate.WaitAsync();
        try
        {
            return s_shared ??= await StartAsync();
        }
        finally
        {
            SharedGate.Release();
        }
    }

    public static async Task StopSharedAsync()
    {
        if (s_shared is { } server)
        {
            s_shared = null;
            await server._server.DisposeAsync();
        }
    }

    /// <summary>A server of the test's own (for tests that kill it), stopped when disposed.</summary>
    public static Task<RedisServer> StartPrivateAsync() => StartAsync();

    public ValueTask StopAsync() => _server.DisposeAsync();

    public async Task KillAsync() => await _server.DisposeAsync();

    public async Task RestartAsync()
    {
        var (ready, server) = await ServerProcess.StartAsync(ReadyLine, Command(Port));
        Assert.That(ready, Is.True, "redis-server did not restart:\n" + server.Output);
        _server = server;
    }

    private static async Task<RedisServer> StartAsync()
    {
        await SystemPackages.RequireAsync(Binary, "redis-server");
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(40_000, 50_000);
            var (ready, server) = await ServerProcess.StartAsync(ReadyLine, Command(port));
            if (ready)
            {
                return new RedisServer(port, server);
            }

            await server.DisposeAsync();
            Assert.That(attempt, Is.LessThan(10), "redis-server did not start:\n" + server.Output);
        }
    }

    private static string[] Command(int port) =>
        [Binary, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
}
