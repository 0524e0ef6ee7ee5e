namespace TopicBroker.Hosting;

/// <summary>
/// The loop of a background service that acts every interval, as Kestrel's heartbeat: each tick
/// has its own try/catch, so a tick that throws never ends pings, polling or sampling for the rest
/// of the process. A failure is logged once at Error; while the ticks after it keep failing they
/// are logged at Debug, and the first tick that succeeds again says so: a lasting fault does not
/// write an Error every tick. Time comes from the injected <see cref="TimeProvider"/>, so tests
/// drive a loop with a fake clock. Stopping (the token cancelled) ends the loop silently.
/// </summary>
internal static partial class PeriodicLoop
{
    /// <param name="name">What the loop does, for its log lines ("Heartbeat", "Polling").</param>
    public static Task RunAsync(string name, TimeSpan interval, TimeProvider timeProvider, Action tick, ILogger logger, CancellationToken stoppingToken) =>
        RunAsync(name, interval, timeProvider, _ =>
        {
            tick();
            return ValueTask.CompletedTask;
        }, logger, stoppingToken);

    /// <param name="name">What the loop does, for its log lines ("Heartbeat", "Polling").</param>
    public static async Task RunAsync(string name, TimeSpan interval, TimeProvider timeProvider, Func<CancellationToken, ValueTask> tick, ILogger logger, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, timeProvider);
        var failedTicks = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await tick(stoppingToken).ConfigureAwait(false);
                    if (failedTicks > 0)
                    {
                        Log.Recovered(logger, name, failedTicks);
                        failedTicks = 0;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    if (failedTicks++ == 0)
                    {
                        Log.TickFailed(logger, name, ex);
                    }
                    else
                    {
                        Log.TickFailedAgain(logger, name, failedTicks, ex);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
