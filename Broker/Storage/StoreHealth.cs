namespace TopicBroker.Storage;

/// <summary>
/// Whether the store answers, as the last call to it found: the pipeline's commits and, in
/// cluster mode, the repair loop's reads report here, so a store lost while nobody publishes is
/// still noticed (readiness, status, and the store-loss deadline of protocol.md "Cluster").
/// </summary>
internal sealed class StoreHealth(TimeProvider timeProvider)
{
    private long _failedSinceTimestamp;

    public bool IsHealthy => Volatile.Read(ref _failedSinceTimestamp) == 0;

    /// <summary>How long the store has been failing; zero while it answers.</summary>
    public TimeSpan FailingFor => Volatile.Read(ref _failedSinceTimestamp) is var since and not 0 ? timeProvider.GetElapsedTime(since) : TimeSpan.Zero;

    /// <summary>True when this call turned the store from healthy to failing.</summary>
    public bool MarkFailed() => Interlocked.CompareExchange(ref _failedSinceTimestamp, Math.Max(1, timeProvider.GetTimestamp()), 0) == 0;

    /// <summary>True when this call turned the store from failing to healthy.</summary>
    public bool MarkHealthy() => Interlocked.Exchange(ref _failedSinceTimestamp, 0) != 0;
}
