using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;

namespace TopicBroker.Ingest;

/// <summary>The outcome of one publish: a committed seq, or an error code of protocol.md "TCP bridge".</summary>
internal readonly record struct PublishResult(long Seq, string? Error, string? Message)
{
    public bool Ok => Error is null;

    public static PublishResult Committed(long seq) => new(seq, null, null);

    public static PublishResult Rejected(string error, string message) => new(0, error, message);

    public static PublishResult Rejected(InboundError error) => new(0, error.Code, error.Message);

    /// <summary>The answer to an accepted auth line: <c>{"ok":true}</c>, no seq.</summary>
    public static readonly PublishResult Authenticated = new(0, null, null);

    public static readonly PublishResult ShuttingDown = Rejected(ErrorCodes.ShuttingDown, "The broker is shutting down; retry when it is back.");

    public PublishAnswer ToAnswer() => Ok ? new PublishAnswer(true, Seq == 0 ? null : Seq, null, null) : new PublishAnswer(false, null, Error, Message);
}
