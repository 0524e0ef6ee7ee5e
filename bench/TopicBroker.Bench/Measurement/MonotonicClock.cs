using System.Diagnostics;

namespace TopicBroker.Bench.Measurement;

/// <summary>
/// Conversions for <see cref="Stopwatch.GetTimestamp"/> values. On Linux the timestamp is
/// CLOCK_MONOTONIC, which every process on the machine shares, so a timestamp written into a
/// message by the publisher can be subtracted from one taken by a subscriber.
/// </summary>
internal static class MonotonicClock
{
    private static readonly double s_nanosecondsPerTick = 1_000_000_000.0 / Stopwatch.Frequency;

    public static long Now => Stopwatch.GetTimestamp();

    public static long ToNanoseconds(long ticks) =>
        Stopwatch.Frequency == 1_000_000_000 ? ticks : (long)(ticks * s_nanosecondsPerTick);

    public static long FromSeconds(double seconds) => (long)(seconds * Stopwatch.Frequency);

    public static double ToSeconds(long ticks) => ticks / (double)Stopwatch.Frequency;

    public static double ToMilliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    /// <summary>Waits until <paramref name="timestamp"/>; a bounded wait on the clock itself.</summary>
    public static async Task DelayUntilAsync(long timestamp, CancellationToken cancellationToken)
    {
        var remaining = timestamp - Now;
        if (remaining > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(ToSeconds(remaining)), cancellationToken).ConfigureAwait(false);
        }
    }
}
