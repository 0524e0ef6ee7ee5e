namespace TopicBroker.Sites;

internal sealed partial class ReplicationHub
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "A new replication link of site {Site} replaces link {OldLinkId}")]
        public static partial void LinkReplaced(ILogger logger, string site, long oldLinkId);
    }
}
