namespace TopicBroker.Protocol.Inbound;

/// <summary>Why input from outside was refused: an error code of protocol.md "Error codes" and the message sent with it.</summary>
internal readonly record struct InboundError(string Code, string Message);
