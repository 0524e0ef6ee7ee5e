using Microsoft.Extensions.Logging;

namespace TopicBroker.Tests.Clients;

/// <summary>
/// The log of a TopicBroker.Client object, kept so that a test can wait for what the client reports
/// it did (lost a connection, gave up on an answer) instead of guessing when it did it.
/// </summary>
internal sealed class ClientLog : ILogger
{
    private readonly Lock _lock = new();
    private readonly List<string> _lines = [];
    private readonly List<(string Fragment, int Skip, TaskCompletionSource Seen)> _waiters = [];

    /// <summary>How many lines have been logged so far; a later wait can ask for newer ones only.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _lines.Count;
            }
        }
    }

    public override string ToString()
    {
        lock (_lock)
        {
            return string.Join('\n', _lines);
        }
    }

    /// <summary>Waits for a line containing <paramref name="fragment"/> among the lines after the first <paramref name="skip"/>.</summary>
    public Task WaitForAsync(string fragment, int skip = 0)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_lines.Skip(skip).Any(l => l.Contains(fragment, StringComparison.Ordinal)))
            {
                return Task.CompletedTask;
            }

            _waiters.Add((fragment, skip, seen));
        }

        return seen.Task.DefaultTimeout();
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}";
        List<TaskCompletionSource> seen = [];
        lock (_lock)
        {
            _lines.Add(line);
            var index = _lines.Count - 1;
            _waiters.RemoveAll(w =>
            {
                if (index < w.Skip || !line.Contains(w.Fragment, StringComparison.Ordinal))
                {
                    return false;
                }

                seen.Add(w.Seen);
                return true;
            });
        }

        // Completed outside the lock: a continuation never runs under it.
        foreach (var waiter in seen)
        {
            waiter.TrySetResult();
        }
    }
}
