using TopicBroker.Hosting;

namespace TopicBroker.Cluster;

/// <summary>
/// For tests only (Broker:Cluster:TestFaults): damages this node's outgoing pub/sub messages in
/// the ways Redis pub/sub can fail a subscriber (lost, duplicated, out of order), so the tests
/// show that the receiving nodes repair them. Called from the pipeline's single loop.
/// </summary>
internal sealed class ClusterFaultInjector(ClusterTestFaults faults)
{
    private long _count;
    private byte[]? _heldBack;

    /// <summary>The messages to send in place of <paramref name="message"/>, in order.</summary>
    public IEnumerable<byte[]> Apply(byte[] message)
    {
        var n = ++_count;
        if (faults.DropEvery > 0 && n % faults.DropEvery == 0)
        {
            yield break;
        }

        if (faults.ReorderEvery > 0 && n % faults.ReorderEvery == 0 && _heldBack is null)
        {
            _heldBack = message;
            yield break;
        }

        yield return message;
        if (faults.DuplicateEvery > 0 && n % faults.DuplicateEvery == 0)
        {
            yield return message;
        }

        if (_heldBack is { } held)
        {
            _heldBack = null;
            yield return held;
        }
    }
}
