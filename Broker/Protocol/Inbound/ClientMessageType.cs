namespace TopicBroker.Protocol.Inbound;

/// <summary>The <c>type</c> of a client's WebSocket message (protocol.md "Client to server").</summary>
internal enum ClientMessageType
{
    /// <summary>No <c>type</c>, or one that is not a string.</summary>
    Missing,
    Unknown,
    Ping,
    Pong,
    Auth,
}
