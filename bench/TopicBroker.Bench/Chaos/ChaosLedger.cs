using System.Collections.Concurrent;

namespace TopicBroker.Bench.Chaos;

/// <summary>One change the broker acknowledged: <c>{"ok":true,"seq":N}</c> on the bridge or HTTP.</summary>
internal readonly record struct AckedChange(long Seq, string Id, long N, bool Delete);

/// <summary>What a subscriber received at a seq, to check that one seq never means two changes.</summary>
internal readonly record struct DeliveredChange(string Id, long N, bool Delete);

/// <summary>
/// Everything the chaos run knows about one topic: each acknowledged change by seq, the last
/// acknowledged upsert of every id that is never deleted, and the first delivery seen for each
/// seq. Publishers and subscribers write it from many threads.
/// </summary>
internal sealed class TopicLedger(string topic)
{
    private readonly ConcurrentDictionary<long, AckedChange> _acked = new();
    private readonly ConcurrentDictionary<string, AckedChange> _lastUpsert = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, DeliveredChange> _delivered = new();
    private long _maxAckedSeq;
    private long _maxDeliveredSeq;

    public string Topic { get; } = topic;

    public long MaxAckedSeq => Interlocked.Read(ref _maxAckedSeq);

    public long MaxDeliveredSeq => Interlocked.Read(ref _maxDeliveredSeq);

    public int AckedCount => _acked.Count;

    /// <summary>Records an ack; false (and the earlier one kept) if the seq was already acked for another change.</summary>
    public bool TryAddAcked(AckedChange change, out AckedChange existing)
    {
        existing = _acked.GetOrAdd(change.Seq, change);
        if (existing != change)
        {
            return false;
        }

        InterlockedMax(ref _maxAckedSeq, change.Seq);
        if (!change.Delete && ChaosPublishers.IsNeverDeleted(change.Id))
        {
            _lastUpsert.AddOrUpdate(change.Id, change, (_, old) => old.Seq >= change.Seq ? old : change);
        }

        return true;
    }

    public bool TryGetAcked(long seq, out AckedChange change) => _acked.TryGetValue(seq, out change);

    /// <summary>Records the first delivery of a seq; false with the earlier one if a different change arrived before under the same seq.</summary>
    public bool TryAddDelivered(long seq, DeliveredChange change, out DeliveredChange first)
    {
        first = _delivered.GetOrAdd(seq, change);
        InterlockedMax(ref _maxDeliveredSeq, seq);
        return first == change;
    }

    public bool TryGetDelivered(long seq, out DeliveredChange change) => _delivered.TryGetValue(seq, out change);

    /// <summary>A copy of every acknowledged change, for the store check.</summary>
    public List<AckedChange> AckedSnapshot() => [.. _acked.Values];

    /// <summary>The last acknowledged upsert of every never-deleted id, as of now.</summary>
    public Dictionary<string, AckedChange> LastUpserts() => new(_lastUpsert, StringComparer.Ordinal);

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}

/// <summary>The invariants the chaos run checks, and every violation of them, thread-safe.</summary>
internal sealed class ChaosViolations
{
    public const string Durable = "durable";
    public const string Order = "order";
    public const string SeqIdentity = "seq-identity";
    public const string Snapshot = "snapshot";
    public const string Drain = "drain";
    public const string Memory = "memory";
    public const string Malformed = "malformed";
    public const string Shutdown = "shutdown";

    private const int KeptSamples = 200;

    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _samples = new();
    private readonly TextWriter _output;
    private readonly long _startedAt;
    private int _kept;

    public ChaosViolations(TextWriter output, long startedAt)
    {
        _output = output;
        _startedAt = startedAt;
    }

    public long Total => _counts.Values.Sum();

    public IReadOnlyDictionary<string, long> Counts => new SortedDictionary<string, long>(_counts, StringComparer.Ordinal);

    public IReadOnlyList<string> Samples => [.. _samples];

    public void Add(string invariant, string detail)
    {
        _counts.AddOrUpdate(invariant, 1, (_, n) => n + 1);
        var line = $"[{Measurement.MonotonicClock.ToSeconds(Measurement.MonotonicClock.Now - _startedAt),7:0.0}s] VIOLATION {invariant}: {detail}";
        if (Interlocked.Increment(ref _kept) <= KeptSamples)
        {
            _samples.Enqueue(line);
            _output.WriteLine(line);
        }
    }
}
