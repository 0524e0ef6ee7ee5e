namespace TopicBroker.Bench.Measurement;

/// <summary>
/// Collects latencies from many receive loops without contention: every thread records into its
/// own <see cref="LatencyHistogram"/>, and <see cref="Merge"/> adds them up once the traffic has
/// stopped. Merging while threads still record would only miss a few in-flight increments, but
/// the scenarios always drain first. It is deliberately not disposable: a receive loop may still
/// hold the window it read just before the window was retired, and recording into a disposed
/// ThreadLocal would throw inside that loop; the finalizer releases it instead.
/// </summary>
internal sealed class LatencyRecorder
{
    private readonly ThreadLocal<LatencyHistogram> _perThread = new(static () => new LatencyHistogram(), trackAllValues: true);

    public void Record(long nanoseconds) => _perThread.Value!.Record(nanoseconds);

    public LatencyHistogram Merge()
    {
        var merged = new LatencyHistogram();
        foreach (var histogram in _perThread.Values)
        {
            merged.Add(histogram);
        }

        return merged;
    }
}
