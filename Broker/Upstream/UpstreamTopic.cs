using TopicBroker.Topics;

namespace TopicBroker.Upstream;

/// <summary>
/// One forwarded topic at the restaurant: the seq sent to the head office and the seq it
/// acknowledged. The send loop writes <see cref="Forwarded"/>, the receive loop
/// <see cref="Acknowledged"/>; status reads both.
/// </summary>
internal sealed class UpstreamTopic(TopicState local)
{
    private long _forwarded;
    private long _acknowledged;
    private long _resyncs;

    public TopicState Local { get; } = local;

    public string Name => Local.Name;

    /// <summary>Whether the head office listed the topic in its welcome (it may not be configured there).</summary>
    public bool AtHeadOffice { get; set; }

    public long Forwarded { get => Volatile.Read(ref _forwarded); set => Volatile.Write(ref _forwarded, value); }

    public long Acknowledged { get => Volatile.Read(ref _acknowledged); set => Volatile.Write(ref _acknowledged, value); }

    public long Resyncs => Volatile.Read(ref _resyncs);

    public void CountResync() => Interlocked.Increment(ref _resyncs);
}
