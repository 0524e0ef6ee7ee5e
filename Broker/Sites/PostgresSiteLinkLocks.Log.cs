namespace TopicBroker.Sites;

internal sealed partial class PostgresSiteLinkLocks
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Site {Site}: this node holds the replication link lock")]
        public static partial void Acquired(ILogger logger, string site);

        [LoggerMessage(2, LogLevel.Debug, "Site {Site}: replication link lock released")]
        public static partial void Released(ILogger logger, string site);

        [LoggerMessage(3, LogLevel.Warning, "Site {Site}: the connection holding the replication link lock failed ({Reason}); the link is ended")]
        public static partial void Lost(ILogger logger, string site, string reason);
    }
}
