using TopicBroker.Client.Bridge;

namespace RobotBridge.Simulation;

/// <summary>
/// The main loop: advances the <see cref="Restaurant"/> once per tick and publishes what changed
/// through the client library's <see cref="BridgePublisher"/>. When the broker is away the bridge's queue fills and
/// publishing waits, so the simulation pauses rather than piling up changes without bound.
/// </summary>
internal sealed class SimulationLoop(Restaurant restaurant, BridgePublisher bridge, TimeSpan tick, TimeProvider time, TextWriter output)
{
    private static readonly TimeSpan s_reportInterval = TimeSpan.FromSeconds(5);

    /// <summary>Publishes the whole restaurant, then one step per tick until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var changes = new List<EntityChange>();
        try
        {
            restaurant.ReportAll(changes);
            await PublishAsync(changes, cancellationToken);

            using var timer = new PeriodicTimer(tick, time);
            var lastReport = time.GetTimestamp();
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                // A fixed step per tick, not the wall-clock time since the last one: after the
                // bridge made us wait, robots carry on from where they were instead of jumping.
                changes.Clear();
                restaurant.Step(tick, time.GetUtcNow(), changes);
                await PublishAsync(changes, cancellationToken);

                if (time.GetElapsedTime(lastReport) >= s_reportInterval)
                {
                    lastReport = time.GetTimestamp();
                    ReportProgress();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping is the normal way out of the loop.
        }
    }

    /// <summary>Publishes the restaurant closing: open orders removed, tables free, robots offline.</summary>
    public async Task PublishClosingAsync(CancellationToken cancellationToken)
    {
        var changes = new List<EntityChange>();
        restaurant.ReportClosing(changes);
        await PublishAsync(changes, cancellationToken);
    }

    public void ReportProgress() =>
        output.WriteLine(
            $"{time.GetLocalNow():HH:mm:ss} sent {bridge.Sent}, acked {bridge.Acked}, rejected {bridge.Rejected}, " +
            $"resent {bridge.Resent}, reconnects {bridge.Reconnects}, unacked {bridge.Unacked}, last seq {bridge.LastSeq}");

    private async Task PublishAsync(List<EntityChange> changes, CancellationToken cancellationToken)
    {
        foreach (var change in changes)
        {
            if (change.Data is null)
            {
                await bridge.PublishDeleteAsync(change.Topic, change.Id, cancellationToken);
            }
            else
            {
                await bridge.PublishAsync(change.Topic, change.Id, change.Data, cancellationToken);
            }
        }
    }
}
