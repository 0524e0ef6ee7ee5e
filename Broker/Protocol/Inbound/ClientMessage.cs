namespace TopicBroker.Protocol.Inbound;

/// <summary>A client's WebSocket message: its type and the raw bytes of its <c>data</c> (null when absent).</summary>
internal readonly record struct ClientMessage(ClientMessageType Type, byte[]? Data);
