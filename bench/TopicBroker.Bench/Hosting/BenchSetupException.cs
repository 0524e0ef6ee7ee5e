namespace TopicBroker.Bench.Hosting;

/// <summary>The benchmark cannot start: bad options, no broker build, a broker that does not come up.</summary>
internal sealed class BenchSetupException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>A server of TopicBroker.Testing (PostgreSQL, Redis) that is missing or does not come up is a setup failure.</summary>
    public static async Task<T> WhenStartFailsAsync<T>(string server, Task<T> start)
    {
        try
        {
            return await start.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            throw new BenchSetupException($"{server} did not start: {ex.Message}", ex);
        }
    }
}
