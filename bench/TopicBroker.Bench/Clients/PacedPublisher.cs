using TopicBroker.Bench.Measurement;

namespace TopicBroker.Bench.Clients;

/// <summary>
/// Publishes at a fixed rate over one bridge connection. A dedicated thread wakes about every
/// millisecond and sends, in one write, every update that is due by then (one schedule, not one
/// timer per message). Each update carries its *scheduled* send time, so if the publisher or the
/// socket falls behind, the delay shows up in the measured latency instead of being hidden
/// (no coordinated omission). Updates go round-robin over the topics; each topic has its own
/// sequence <c>n</c> so every subscriber can check that it saw every one.
/// </summary>
internal sealed class PacedPublisher
{
    private const int BatchBytes = 256 * 1024;

    private readonly BridgeClientConnection _bridge;
    private readonly UpdateLineWriter _lines;
    private readonly long[] _publishedPerTopic;
    private readonly byte[] _batch = new byte[BatchBytes];
    private long _published;
    private int _nextTopic;
    private long _roomWaits;
    private LatencyHistogram _lag = new();

    public PacedPublisher(BridgeClientConnection bridge, UpdateLineWriter lines)
    {
        _bridge = bridge;
        _lines = lines;
        _publishedPerTopic = new long[lines.TopicCount];
    }

    public long Published => Volatile.Read(ref _published);

    /// <summary>How many times the publisher had to wait because too many lines were unanswered.</summary>
    public long RoomWaits => Volatile.Read(ref _roomWaits);

    /// <summary>Updates published so far to each topic; a subscriber of topic t must see n = 0 .. this - 1.</summary>
    public long[] PublishedPerTopic()
    {
        var copy = new long[_publishedPerTopic.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = Volatile.Read(ref _publishedPerTopic[i]);
        }

        return copy;
    }

    /// <summary>
    /// How late each burst left against its schedule (thread wake-up, CPU contention, a full
    /// in-flight window). Latencies are measured from the schedule, so this part of them is the
    /// generator's or the machine's, not the broker's delivery.
    /// </summary>
    public LatencyHistogram Lag => Volatile.Read(ref _lag);

    /// <summary>Starts a new lag record; call while the publisher is running, at the window's start.</summary>
    public void ResetLag()
    {
        Volatile.Write(ref _lag, new LatencyHistogram());
    }

    /// <summary>Publishes <paramref name="ratePerSecond"/> updates per second from now until <paramref name="endTimestamp"/>.</summary>
    public Task RunAsync(double ratePerSecond, long endTimestamp, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(
            () => Run(ratePerSecond, endTimestamp, cancellationToken),
            cancellationToken,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

    /// <summary>Publishes one update to every topic at once; used to time a single broadcast.</summary>
    public long PublishOneToEveryTopic()
    {
        var now = MonotonicClock.Now;
        var length = 0;
        var count = 0;
        for (var topic = 0; topic < _lines.TopicCount; topic++)
        {
            if (length + UpdateLineWriter.MaxLineBytes > _batch.Length)
            {
                _bridge.Send(_batch.AsSpan(0, length), count, now);
                length = 0;
                count = 0;
            }

            length += _lines.Write(_batch.AsSpan(length), topic, _publishedPerTopic[topic], now);
            Volatile.Write(ref _publishedPerTopic[topic], _publishedPerTopic[topic] + 1);
            count++;
        }

        _bridge.Send(_batch.AsSpan(0, length), count, now);
        Volatile.Write(ref _published, _published + count);
        return now;
    }

    private void Run(double ratePerSecond, long endTimestamp, CancellationToken cancellationToken)
    {
        var start = MonotonicClock.Now;
        var ticksPerUpdate = MonotonicClock.FromSeconds(1) / ratePerSecond;
        var total = (long)Math.Floor((endTimestamp - start) / ticksPerUpdate);
        long sentInRun = 0;
        while (sentInRun < total && !cancellationToken.IsCancellationRequested)
        {
            var now = MonotonicClock.Now;
            var due = Math.Min(total, (long)Math.Floor((now - start) / ticksPerUpdate) + 1);
            if (sentInRun >= due)
            {
                // Nothing due: sleep to the next millisecond tick (Linux sleeps about 1.05 ms).
                Thread.Sleep(1);
                continue;
            }

            var room = (int)Math.Max(0, _bridge.MaxInFlight - _bridge.InFlight);
            if (room == 0)
            {
                // The broker is behind on acks; the lag this causes lands in the latency.
                _roomWaits++;
                if (_bridge.Failure is { } failure)
                {
                    throw new IOException($"The bridge connection failed: {failure}");
                }

                Thread.Sleep(1);
                continue;
            }

            var length = 0;
            var count = 0;
            var firstScheduled = start + (long)(sentInRun * ticksPerUpdate);
            while (sentInRun < due && count < room && length + UpdateLineWriter.MaxLineBytes <= _batch.Length)
            {
                var scheduled = start + (long)(sentInRun * ticksPerUpdate);
                var topic = _nextTopic;
                _nextTopic = topic + 1 == _lines.TopicCount ? 0 : topic + 1;
                length += _lines.Write(_batch.AsSpan(length), topic, _publishedPerTopic[topic], scheduled);
                Volatile.Write(ref _publishedPerTopic[topic], _publishedPerTopic[topic] + 1);
                sentInRun++;
                count++;
            }

            _lag.Record(MonotonicClock.ToNanoseconds(now - firstScheduled));

            // Stamped with the first line's schedule for the commit latency; lines of one burst
            // are at most a millisecond apart unless the publisher is behind.
            _bridge.Send(_batch.AsSpan(0, length), count, firstScheduled);
            Volatile.Write(ref _published, _published + count);
        }
    }
}
