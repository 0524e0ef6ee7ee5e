namespace TopicBroker.Protocol.Inbound;

/// <summary>What a head office sends on a replication link (protocol.md "The upstream link").</summary>
internal enum HeadOfficeMessageType
{
    Welcome,
    Ack,
    Error,
}
