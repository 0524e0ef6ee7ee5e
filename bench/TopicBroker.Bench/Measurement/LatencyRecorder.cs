namespace TopicBroker.Bench.Measurement;

/// <summary>
/// Collects latencies from many receive loops without contention: every thread records into its
/// own <see cref="LatencyHistogram"/>, and <see cref="Merge"/> adds them up once the traffic has
/// stopped. Merging while threads still record would only miss a few in-flight increments, but
/// the scenarios always drain first.
/// </summary>
internal sealed class LatencyRecorder : IDisposable
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

    public void Dispose() => _perThread.Dispose();
}
