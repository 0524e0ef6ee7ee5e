namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// What something reported (log events, a page's WebSockets, a client's log lines), in order, so
/// that a test waits for the event it expects instead of guessing when it happens. A wait sees
/// events already recorded too, can ask for events after the first <c>skip</c> only, and is
/// bounded by <see cref="TaskTimeouts.Default"/>. Waiters are completed outside the lock, so a
/// continuation never runs under it.
/// </summary>
internal sealed class EventRecorder<T>
{
    private readonly Lock _lock = new();
    private readonly List<T> _events = [];
    private readonly List<Waiter> _waiters = [];

    /// <summary>How many events have been recorded so far; a later wait can ask for newer ones only.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _events.Count;
            }
        }
    }

    /// <summary>A copy of the events recorded so far, oldest first.</summary>
    public IReadOnlyList<T> Snapshot()
    {
        lock (_lock)
        {
            return [.. _events];
        }
    }

    public void Add(T item)
    {
        List<Waiter> matched;
        lock (_lock)
        {
            _events.Add(item);
            matched = TakeMatchingLocked(item, _events.Count - 1);
        }

        Complete(matched, item);
    }

    /// <summary>
    /// An event already recorded has changed (a socket received a frame): waiters it now matches
    /// are completed.
    /// </summary>
    public void Changed(T item)
    {
        List<Waiter> matched;
        lock (_lock)
        {
            matched = TakeMatchingLocked(item, _events.IndexOf(item));
        }

        Complete(matched, item);
    }

    /// <summary>The first event after the first <paramref name="skip"/> that matches, now or when it is recorded (or changes).</summary>
    public Task<T> WaitForAsync(Func<T, bool> match, int skip = 0)
    {
        var waiter = new Waiter(match, skip, new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_lock)
        {
            for (var i = skip; i < _events.Count; i++)
            {
                if (match(_events[i]))
                {
                    return Task.FromResult(_events[i]);
                }
            }

            _waiters.Add(waiter);
        }

        return waiter.Found.Task.DefaultTimeout();
    }

    public override string ToString()
    {
        lock (_lock)
        {
            return string.Join('\n', _events);
        }
    }

    private List<Waiter> TakeMatchingLocked(T item, int index)
    {
        List<Waiter> matched = [];
        _waiters.RemoveAll(w =>
        {
            if (index < w.Skip || !w.Match(item))
            {
                return false;
            }

            matched.Add(w);
            return true;
        });
        return matched;
    }

    private static void Complete(List<Waiter> matched, T item)
    {
        foreach (var waiter in matched)
        {
            waiter.Found.TrySetResult(item);
        }
    }

    private sealed record Waiter(Func<T, bool> Match, int Skip, TaskCompletionSource<T> Found);
}
