namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// One server of a kind for the whole test run (<see cref="PostgresServer"/>, <see cref="RedisServer"/>):
/// started by the first fixture that asks, stopped by <see cref="RunTeardown"/>.
/// </summary>
internal sealed class SharedServer<T>(Func<Task<T>> start, Func<T, Task> stop)
    where T : class
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private T? _server;

    public async Task<T> GetAsync()
    {
        await _gate.WaitAsync();
        try
        {
            return _server ??= await start();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task StopAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_server is { } server)
            {
                _server = null;
                await stop(server);
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
