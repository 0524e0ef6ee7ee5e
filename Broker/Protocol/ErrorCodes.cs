namespace TopicBroker.Protocol;

/// <summary>The <c>code</c> strings of error frames and publish answers (protocol.md "Frames" and "TCP bridge").</summary>
internal static class ErrorCodes
{
    public const string InvalidJson = "invalid_json";
    public const string MissingType = "missing_type";
    public const string UnknownType = "unknown_type";
    public const string UnknownTopic = "unknown_topic";
    public const string InvalidId = "invalid_id";
    public const string InvalidData = "invalid_data";
    public const string InvalidOp = "invalid_op";
    public const string TooLarge = "too_large";
    public const string Unavailable = "unavailable";
    public const string ShuttingDown = "shutting_down";
    public const string Unauthorized = "unauthorized";
    public const string Forbidden = "forbidden";
    public const string InvalidToken = "invalid_token";
    public const string OriginNotAllowed = "origin_not_allowed";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string TooManyConnections = "too_many_connections";
    public const string TooManyEntities = "too_many_entities";
    public const string ReplicatedTopic = "replicated_topic";
    public const string TooManySites = "too_many_sites";
    public const string SeqGap = "seq_gap";
    public const string SiteLinkBusy = "site_link_busy";
}
