namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// The tests' <c>redis-server</c> (<see cref="RedisProcess"/>, installed when missing): one per
/// run (<see cref="SharedAsync"/>), stopped by <see cref="RunTeardown"/>, or one of a test's own
/// that it kills and restarts on the same port.
/// </summary>
internal sealed class RedisServer
{
    private static readonly SharedServer<RedisServer> s_shared = new(StartAsync, server => server.StopAsync().AsTask());
    private readonly RedisProcess _process;

    private RedisServer(RedisProcess process) => _process = process;

    public int Port => _process.Port;

    public string Configuration => _process.Configuration;

    public static Task<RedisServer> SharedAsync() => s_shared.GetAsync();

    public static Task StopSharedAsync() => s_shared.StopAsync();

    /// <summary>A server of the test's own (for tests that kill it), stopped when disposed.</summary>
    public static Task<RedisServer> StartPrivateAsync() => StartAsync();

    public ValueTask StopAsync() => _process.DisposeAsync();

    public Task KillAsync() => _process.KillAsync();

    public Task RestartAsync() => _process.RestartAsync();

    private static async Task<RedisServer> StartAsync()
    {
        await SystemPackages.RequireAsync(RedisProcess.Binary, "redis-server");
        return new RedisServer(await RedisProcess.StartAsync());
    }
}
