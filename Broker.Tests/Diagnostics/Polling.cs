namespace TopicBroker.Tests.Diagnostics;

/// <summary>
/// For state that only a poll can observe (the status sampler fills its history on its own
/// clock): checks a condition on a short period until it holds, and fails at the timeout.
/// </summary>
internal static class Polling
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(25);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        using var expired = new CancellationTokenSource(timeout ?? TaskTimeouts.Default);
        using var timer = new PeriodicTimer(Period);
        while (!await condition())
        {
            try
            {
                await timer.WaitForNextTickAsync(expired.Token);
            }
            catch (OperationCanceledException) when (expired.IsCancellationRequested)
            {
                Assert.Fail($"the condition did not hold within {timeout ?? TaskTimeouts.Default}");
            }
        }
    }
}
