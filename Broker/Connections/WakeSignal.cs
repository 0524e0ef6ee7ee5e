using System.Threading.Tasks.Sources;

namespace TopicBroker.Connections;

/// <summary>
/// An auto-reset signal for one waiter (a fan-out worker's loop) that allocates nothing per
/// wait or per set: a set with nobody waiting is remembered, and the waiter's continuation
/// always runs on the thread pool, never inline in the fan-out that set it.
/// </summary>
internal sealed class WakeSignal : IValueTaskSource
{
    private const int Idle = 0;
    private const int Set = 1;
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private int _state;

    /// <summary>Wakes the waiter, or lets its next wait complete at once. Any thread.</summary>
    public void Signal()
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Set:
                    return;
                case Idle when Interlocked.CompareExchange(ref _state, Set, Idle) == Idle:
                    return;
                case Waiting when Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting:
                    _core.SetResult(true);
                    return;
            }
        }
    }

    /// <summary>Completes on the next <see cref="Signal"/> (or at once if one came since the last wait). One waiter at a time.</summary>
    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Set) == Set)
        {
            return ValueTask.CompletedTask;
        }

        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) != Idle)
        {
            // A signal came between the two exchanges: consume it.
            Volatile.Write(ref _state, Idle);
            return ValueTask.CompletedTask;
        }

        return new ValueTask(this, _core.Version);
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
