namespace TopicBroker.Protocol.Inbound;

/// <summary>
/// One validated message from the head office on a restaurant's replication link. A welcome has
/// <see cref="Topics"/> (each topic with the seq the head office holds); an ack has
/// <see cref="Topic"/> and <see cref="Seq"/>; an error has <see cref="ErrorCode"/> and
/// <see cref="ErrorMessage"/>, and <see cref="Topic"/> when it names one.
/// </summary>
internal readonly record struct HeadOfficeMessage(
    HeadOfficeMessageType Type,
    string? Topic = null,
    long Seq = 0,
    Dictionary<string, long>? Topics = null,
    string? ErrorCode = null,
    string? ErrorMessage = null);
