using TopicBroker.Bench.Hosting;

namespace TopicBroker.Bench.Chaos;

/// <summary>
/// Whether the chaos run's broker is up, where it is, and which incarnation it is (the generation
/// moves on every stop and every start), so clients wait for it instead of hammering a dead port
/// and the malformed-input feeder can tell an answer lost to a stop from a wrong one.
/// </summary>
internal sealed class BrokerState
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private BrokerTarget _target;
    private int _generation;

    public BrokerState(BrokerTarget target)
    {
        _target = target;
        _up.SetResult();
    }

    public BrokerTarget Target
    {
        get
        {
            lock (_lock)
            {
                return _target;
            }
        }
    }

    public int Generation => Volatile.Read(ref _generation);

    public bool IsUp
    {
        get
        {
            lock (_lock)
            {
                return _up.Task.IsCompleted;
            }
        }
    }

    public void MarkDown()
    {
        lock (_lock)
        {
            if (_up.Task.IsCompleted)
            {
                _up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            _generation++;
        }
    }

    public void MarkUp(BrokerTarget target)
    {
        lock (_lock)
        {
            _target = target;
            _generation++;
            _up.TrySetResult();
        }
    }

    public Task WaitUntilUpAsync(CancellationToken cancellationToken)
    {
        Task up;
        lock (_lock)
        {
            up = _up.Task;
        }

        return up.WaitAsync(cancellationToken);
    }
}
