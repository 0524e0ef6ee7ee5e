using System.Net.WebSockets;

namespace TopicBroker.Protocol;

/// <summary>The close codes of protocol.md "Close codes", with the reason texts clients may show.</summary>
internal static class CloseCodes
{
    public const WebSocketCloseStatus GoingAway = WebSocketCloseStatus.EndpointUnavailable; // 1001
    public const WebSocketCloseStatus Unsupported = WebSocketCloseStatus.InvalidMessageType; // 1003
    public const WebSocketCloseStatus PolicyViolation = WebSocketCloseStatus.PolicyViolation; // 1008
    public const WebSocketCloseStatus MessageTooBig = WebSocketCloseStatus.MessageTooBig; // 1009
    public const WebSocketCloseStatus InternalError = WebSocketCloseStatus.InternalServerError; // 1011
    public const WebSocketCloseStatus TryAgainLater = (WebSocketCloseStatus)1013;
    public const WebSocketCloseStatus PongTimeout = (WebSocketCloseStatus)4408;
    public const WebSocketCloseStatus TokenExpired = (WebSocketCloseStatus)4401;

    public const string ShuttingDownReason = "server shutting down";
    public const string StoreUnavailableReason = "store unavailable";
    public const string TooManyConnectionsReason = "Too many connections";
    public const string SlowConsumerReason = "slow consumer";
    public const string BinaryReason = "binary frames are not supported";
    public const string TooBigReason = "message too big";
    public const string PongTimeoutReason = "pong timeout";
    public const string InternalErrorReason = "internal error";
    public const string TooManyConnectionsFromAddressReason = "Too many connections from this address";
    public const string RateLimitReason = "rate limit exceeded";
    public const string TokenExpiredReason = "token expired";
    public const string TooManySitesReason = "Too many sites";

    public static string UnknownTopicReason(string topic) =>
        // A close reason is at most 123 bytes of UTF-8. A well-formed name (at most 64 ASCII
        // characters) fits and is echoed; anything else could not be a topic and is not repeated.
        // Site topics (site/topic) are longer: echoed while they fit.
        TopicBroker.Topics.TopicName.IsValid(topic) || (TopicBroker.Topics.SiteTopicName.TrySplit(topic, out _, out _) && topic.Length <= 100)
            ? $"Unknown topic '{topic}'"
            : "Unknown topic (not a valid topic name)";
}
