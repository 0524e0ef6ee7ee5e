namespace TopicBroker.Bench.Measurement;

/// <summary>
/// One measured interval: latencies are recorded only for messages whose send timestamp falls in
/// [<see cref="StartTimestamp"/>, <see cref="EndTimestamp"/>), so warm-up traffic and the drain
/// after the window never count, however late they arrive.
/// </summary>
internal sealed class MeasurementWindow(long startTimestamp, long endTimestamp)
{
    public long StartTimestamp { get; } = startTimestamp;

    public long EndTimestamp { get; } = endTimestamp;

    public double Seconds => MonotonicClock.ToSeconds(EndTimestamp - StartTimestamp);

    public LatencyRecorder Recorder { get; } = new();

    /// <summary>The cluster scenario: updates published on another node than the subscriber's (<see cref="Recorder"/> holds the same-node ones).</summary>
    public LatencyRecorder CrossNodeRecorder { get; } = new();

    public bool Contains(long timestamp) => timestamp >= StartTimestamp && timestamp < EndTimestamp;
}

/// <summary>The window that receive loops record into right now; swapped between sweep steps after a full drain.</summary>
internal sealed class ActiveWindow
{
    private MeasurementWindow? _current;

    public MeasurementWindow? Current
    {
        get => Volatile.Read(ref _current);
        set => Volatile.Write(ref _current, value);
    }
}
