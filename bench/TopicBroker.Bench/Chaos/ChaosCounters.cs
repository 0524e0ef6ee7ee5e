using System.Collections.Concurrent;

namespace TopicBroker.Bench.Chaos;

/// <summary>What the chaos clients did, counted from many threads.</summary>
internal sealed class ChaosCounters
{
    private readonly ConcurrentDictionary<string, long> _rejections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _closes = new(StringComparer.Ordinal);

    public long AckedBridge;
    public long AckedHttp;
    public long Unanswered;
    public long FramesChecked;
    public long Connects;
    public long ConnectFailures;
    public long Resumes;
    public long SnapshotResets;
    public long FreshSnapshots;
    public long ShutdownFrames;
    public long ErrorFrames;
    public long MalformedSent;
    public long MalformedDocumented;
    public long MalformedInterrupted;

    public IReadOnlyDictionary<string, long> Rejections => new SortedDictionary<string, long>(_rejections, StringComparer.Ordinal);

    public IReadOnlyDictionary<string, long> Closes => new SortedDictionary<string, long>(_closes, StringComparer.Ordinal);

    public void Rejected(string code) => _rejections.AddOrUpdate(code, 1, (_, n) => n + 1);

    public void Closed(string reason) => _closes.AddOrUpdate(reason, 1, (_, n) => n + 1);
}
