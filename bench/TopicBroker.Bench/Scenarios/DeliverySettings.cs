namespace TopicBroker.Bench.Scenarios;

/// <summary>What the fanout and topics scenarios share: subscribers on topics, a paced publisher, rate steps.</summary>
internal sealed record DeliverySettings(
    string Name,
    IReadOnlyList<string> Topics,
    int SubscribersPerTopic,
    IReadOnlyList<double> Rates,
    bool Sweep,
    double P99LimitMs,
    double WarmupSeconds,
    double DurationSeconds,
    int PayloadBytes,
    string IdPrefix,
    int IdsPerTopic,
    int ReceiveBufferBytes,
    int ConnectConcurrency,
    int MaxInFlight,
    int PerAddress,
    /// <summary>Broker:SendQueueCapacity given with --send-queue; null means the broker's default.</summary>
    int? SendQueueCapacity)
{
    public int Subscribers => Topics.Count * SubscribersPerTopic;
}
