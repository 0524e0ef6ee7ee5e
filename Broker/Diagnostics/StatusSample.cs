namespace TopicBroker.Diagnostics;

/// <summary>
/// Every counter the status API and the operations page's charts need, read at one instant.
/// Per-topic arrays are in the order of <see cref="Topics.TopicRegistry.All"/>, which is fixed at
/// start-up. Immutable once taken.
/// </summary>
internal sealed class StatusSample
{
    /// <summary>When it was taken, in <see cref="TimeProvider"/> timestamps (for elapsed time).</summary>
    public required long Timestamp { get; init; }

    /// <summary>When it was taken, on the wall clock (for display).</summary>
    public required DateTimeOffset Time { get; init; }

    public required int[] Subscribers { get; init; }

    public required long[] UpdatesIn { get; init; }

    public required long[] FramesSent { get; init; }

    public required long[] SlowConsumerCloses { get; init; }

    public required long CommittedChanges { get; init; }

    public required int BridgeConnections { get; init; }
}
