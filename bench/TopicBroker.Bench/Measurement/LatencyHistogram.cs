using System.Numerics;

namespace TopicBroker.Bench.Measurement;

/// <summary>
/// A log-linear latency histogram in the HdrHistogram layout: values below 256 ns are exact,
/// above that every power of two is split into 128 linear sub-buckets, so a reported value is
/// within 0.8% of the true one. Recording is one array increment with no allocation; a histogram
/// has a single writer (see <see cref="LatencyRecorder"/>), so it needs no interlocked operations.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 8;
    private const int SubBucketCount = 1 << SubBucketBits;
    private const int HalfSubBucketCount = SubBucketCount / 2;

    // 256 << 30 ns is about 275 s; anything slower is clamped into the last bucket.
    private const int MaxShift = 30;
    private const int BucketCount = SubBucketCount + MaxShift * HalfSubBucketCount;

    private readonly long[] _counts = new long[BucketCount];
    private long _count;
    private long _sum;
    private long _max;

    public long Count => _count;

    public long MaxNanoseconds => _max;

    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0)
        {
            // A timestamp from the future means clock skew between the stamping and reading
            // threads; it can only be a handful of nanoseconds on one machine. Count it as zero.
            nanoseconds = 0;
        }

        _counts[IndexOf(nanoseconds)]++;
        _count++;
        _sum += nanoseconds;
        if (nanoseconds > _max)
        {
            _max = nanoseconds;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < BucketCount; i++)
        {
            _counts[i] += other._counts[i];
        }

        _count += other._count;
        _sum += other._sum;
        _max = Math.Max(_max, other._max);
    }

    /// <summary>The smallest recorded value such that <paramref name="fraction"/> of all values are at most it.</summary>
    public long ValueAtFraction(double fraction)
    {
        if (_count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(Math.Clamp(fraction, 0, 1) * _count);
        rank = Math.Max(rank, 1);
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(HighestValueAt(i), _max);
            }
        }

        return _max;
    }

    public LatencySummary Summarize()
    {
        const double NanosecondsPerMillisecond = 1_000_000.0;
        return new LatencySummary(
            Count: _count,
            MeanMs: _count == 0 ? 0 : _sum / (double)_count / NanosecondsPerMillisecond,
            P50Ms: ValueAtFraction(0.50) / NanosecondsPerMillisecond,
            P90Ms: ValueAtFraction(0.90) / NanosecondsPerMillisecond,
            P99Ms: ValueAtFraction(0.99) / NanosecondsPerMillisecond,
            P999Ms: ValueAtFraction(0.999) / NanosecondsPerMillisecond,
            MaxMs: _max / NanosecondsPerMillisecond);
    }

    internal static int IndexOf(long value)
    {
        if (value < SubBucketCount)
        {
            return (int)value;
        }

        var highestBit = 63 - BitOperations.LeadingZeroCount((ulong)value);

        // Shift so that the value's top eight bits land in [128, 255].
        var shift = highestBit - (SubBucketBits - 1);
        if (shift > MaxShift)
        {
            return BucketCount - 1;
        }

        return SubBucketCount + (shift - 1) * HalfSubBucketCount + (int)((value >> shift) - HalfSubBucketCount);
    }

    internal static long LowestValueAt(int index)
    {
        if (index < SubBucketCount)
        {
            return index;
        }

        var offset = index - SubBucketCount;
        var shift = offset / HalfSubBucketCount + 1;
        var subBucket = (long)(offset % HalfSubBucketCount + HalfSubBucketCount);
        return subBucket << shift;
    }

    internal static long HighestValueAt(int index) =>
        index == BucketCount - 1 ? long.MaxValue : LowestValueAt(index + 1) - 1;
}
