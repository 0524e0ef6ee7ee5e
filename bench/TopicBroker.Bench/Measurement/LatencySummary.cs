namespace TopicBroker.Bench.Measurement;

/// <summary>Percentiles of one latency histogram, in milliseconds.</summary>
internal sealed record LatencySummary(
    long Count,
    double MeanMs,
    double P50Ms,
    double P90Ms,
    double P99Ms,
    double P999Ms,
    double MaxMs)
{
    public static LatencySummary Empty { get; } = new(0, 0, 0, 0, 0, 0, 0);
}
