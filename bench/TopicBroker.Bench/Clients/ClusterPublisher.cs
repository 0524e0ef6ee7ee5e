using TopicBroker.Bench.Measurement;

namespace TopicBroker.Bench.Clients;

/// <summary>
/// One bridge publisher of the cluster scenario, writing round-robin to every topic: either at a
/// fixed rate (<see cref="PacedPublisher"/>) or unthrottled, keeping its in-flight window full in
/// batches as the ingest scenario does. It counts the lines it sent per topic, so the scenario
/// knows which seq every topic must reach once everything is acked.
/// </summary>
internal sealed class ClusterPublisher(BridgeClientConnection bridge, UpdateLineWriter lines)
{
    private const int BatchBytes = 64 * 1024;
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(60);

    private readonly PacedPublisher _paced = new(bridge, lines);
    private readonly long[] _publishedPerTopic = new long[lines.TopicCount];
    private bool _usedPaced;

    public long[] PublishedPerTopic()
    {
        if (Volatile.Read(ref _usedPaced))
        {
            return _paced.PublishedPerTopic();
        }

        var copy = new long[_publishedPerTopic.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = Volatile.Read(ref _publishedPerTopic[i]);
        }

        return copy;
    }

    public Task RunPacedAsync(double ratePerSecond, long endTimestamp, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _usedPaced, true);
        return _paced.RunAsync(ratePerSecond, endTimestamp, cancellationToken);
    }

    /// <summary>Keeps the connection's in-flight window full until <paramref name="endTimestamp"/>, the topics in turn.</summary>
    public Task RunPipelinedAsync(long endTimestamp, CancellationToken cancellationToken)
    {
        var topic = 0;
        return bridge.KeepWindowFullAsync(BatchBytes, s_answerTimeout, endTimestamp, (destination, now) =>
        {
            var length = lines.Write(destination, topic, _publishedPerTopic[topic], now);
            Volatile.Write(ref _publishedPerTopic[topic], _publishedPerTopic[topic] + 1);
            topic = topic + 1 == lines.TopicCount ? 0 : topic + 1;
            return length;
        }, cancellationToken);
    }
}
