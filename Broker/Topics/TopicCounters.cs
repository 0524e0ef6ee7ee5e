namespace TopicBroker.Topics;

/// <summary>Per-topic totals since start-up, read by the status API and metrics.</summary>
internal sealed class TopicCounters
{
    private long _updatesIn;
    private long _framesQueued;
    private long _slowConsumerCloses;
    private long _lastUpdateTimestamp;
    private long _framesSentByClosedConnections;
    private long _framesConflated;
    private long _framesDropped;

    public long UpdatesIn => Volatile.Read(ref _updatesIn);

    public long FramesQueued => Volatile.Read(ref _framesQueued);

    public long SlowConsumerCloses => Volatile.Read(ref _slowConsumerCloses);

    /// <summary>When the last update was applied (TimeProvider timestamp); 0 before the first.</summary>
    public long LastUpdateTimestamp => Volatile.Read(ref _lastUpdateTimestamp);

    /// <summary>Frames written by connections that have since closed (live ones count their own).</summary>
    public long FramesSentByClosedConnections => Volatile.Read(ref _framesSentByClosedConnections);

    /// <summary>Update frames a slow subscriber on a 'latest' topic never got because a newer one for the same id replaced them.</summary>
    public long FramesConflated => Volatile.Read(ref _framesConflated);

    /// <summary>Frames discarded undelivered: a slow consumer's queue when it is closed, pings skipped while conflating.</summary>
    public long FramesDropped => Volatile.Read(ref _framesDropped);

    public void AddFramesConflated(long count) => Interlocked.Add(ref _framesConflated, count);

    public void AddFramesDropped(long count) => Interlocked.Add(ref _framesDropped, count);

    public void AddFramesSentByClosedConnection(long count) => Interlocked.Add(ref _framesSentByClosedConnections, count);

    // Updates and fan-out counts are written only by the single ingest thread (or under the
    // topic lock), so plain increments suffice; readers use Volatile.
    public void AddUpdateIn(long timestamp)
    {
        Volatile.Write(ref _updatesIn, _updatesIn + 1);
        Volatile.Write(ref _lastUpdateTimestamp, Math.Max(1, timestamp));
    }

    public void AddFramesQueued(int count) => Interlocked.Add(ref _framesQueued, count);

    public void AddSlowConsumerClose() => Interlocked.Increment(ref _slowConsumerCloses);
}
