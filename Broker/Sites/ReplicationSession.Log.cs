using System.Net;

namespace TopicBroker.Sites;

internal sealed partial class ReplicationSession
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Replication link {LinkId} of site {Site} from {RemoteAddress} opened with {TopicCount} topics")]
        public static partial void LinkOpened(ILogger logger, long linkId, string site, IPAddress? remoteAddress, int topicCount);

        [LoggerMessage(2, LogLevel.Information, "Replication link {LinkId} of site {Site} closed")]
        public static partial void LinkClosed(ILogger logger, long linkId, string site);

        [LoggerMessage(3, LogLevel.Information, "Replication link {LinkId} of site {Site} dropped: {Reason}")]
        public static partial void LinkDropped(ILogger logger, long linkId, string site, string reason);

        [LoggerMessage(4, LogLevel.Warning, "Replication link {LinkId} of site {Site} refused on {Topic}: {Error} {Message}")]
        public static partial void LinkRefused(ILogger logger, long linkId, string site, string? topic, string error, string message);

        [LoggerMessage(5, LogLevel.Information, "Replication link {LinkId} of site {Site} resynchronises {Topic} at seq {Seq} with {EntityCount} entities")]
        public static partial void Resynchronising(ILogger logger, long linkId, string site, string topic, long seq, int entityCount);
    }
}
