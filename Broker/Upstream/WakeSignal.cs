namespace TopicBroker.Upstream;

/// <summary>
/// Wakes one waiting loop: <see cref="NextAsync"/> returns a task that completes at the next
/// <see cref="Set"/> after it was taken, so a loop that takes it before looking for work never
/// misses a signal raised while it looked.
/// </summary>
internal sealed class WakeSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task NextAsync() => Volatile.Read(ref _next).Task;

    public void Set() =>
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
