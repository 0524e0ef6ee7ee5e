namespace TopicBroker.Cluster;

internal sealed partial class ClusterLink
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Cluster node {NodeId} on channel {Channel}: Redis link {State}")]
        public static partial void Started(ILogger logger, string nodeId, string channel, string state);

        [LoggerMessage(2, LogLevel.Warning, "Cluster node {NodeId}: Redis link down ({FailureType}); delivery goes on from the store")]
        public static partial void LinkDown(ILogger logger, string nodeId, string failureType);

        [LoggerMessage(3, LogLevel.Information, "Cluster node {NodeId}: Redis link restored; backfilling from the store")]
        public static partial void LinkRestored(ILogger logger, string nodeId);

        [LoggerMessage(4, LogLevel.Warning, "Cluster node {NodeId}: the Redis subscription delivered nothing for {Seconds:F1} s; delivery goes on from the store")]
        public static partial void LinkQuiet(ILogger logger, string nodeId, double seconds);

        [LoggerMessage(5, LogLevel.Warning, "Cluster node {NodeId}: subscribing on Redis failed ({Reason}); retrying")]
        public static partial void SubscribeFailed(ILogger logger, string nodeId, string reason);

        [LoggerMessage(6, LogLevel.Debug, "Topic {Topic} backfilled from the store after seq {After} up to {UpTo}")]
        public static partial void Backfilled(ILogger logger, string topic, long after, long upTo);

        [LoggerMessage(7, LogLevel.Warning, "Topic {Topic} resynchronized from seq {After} to {Seq}: the store's history no longer reached back")]
        public static partial void Resynchronized(ILogger logger, string topic, long after, long seq);

        [LoggerMessage(8, LogLevel.Error, "Cluster node {NodeId}: the store is unreachable; publishes are answered 'unavailable'")]
        public static partial void StoreLost(ILogger logger, string nodeId, Exception exception);

        [LoggerMessage(9, LogLevel.Error, "Cluster node {NodeId}: the store is still unreachable past Broker:Cluster:StoreLossDeadline; sending {Connections} WebSocket clients to another node")]
        public static partial void StoreLossDeadlinePassed(ILogger logger, string nodeId, int connections);

        [LoggerMessage(10, LogLevel.Information, "Cluster node {NodeId}: the store answers again")]
        public static partial void StoreBack(ILogger logger, string nodeId);

        [LoggerMessage(11, LogLevel.Error, "Cluster repair tick failed")]
        public static partial void RepairFailed(ILogger logger, Exception exception);

        [LoggerMessage(12, LogLevel.Warning, "Cluster node {NodeId}: a Redis message this version cannot read was ignored")]
        public static partial void UnreadableMessage(ILogger logger, string nodeId);

        [LoggerMessage(13, LogLevel.Warning, "Topic {Topic}: catching up to since={Since} failed; the client gets what this node has")]
        public static partial void CatchUpFailed(ILogger logger, string topic, long since, Exception exception);

        [LoggerMessage(14, LogLevel.Information, "Topic {Topic}: node {NodeId} resynchronised it at seq {Seq}; reloading it from the store")]
        public static partial void ResyncNotice(ILogger logger, string topic, string nodeId, long seq);

        [LoggerMessage(15, LogLevel.Warning, "Topic {Topic}: the committed seq {Committed} is below the applied seq {Applied} (resynchronised elsewhere, its notice lost); reloading it from the store")]
        public static partial void CommittedBelowApplied(ILogger logger, string topic, long committed, long applied);

        [LoggerMessage(16, LogLevel.Information, "Topic {Topic} reloaded from the store at seq {Seq}; its subscribers got a snapshot")]
        public static partial void Reloaded(ILogger logger, string topic, long seq);

        [LoggerMessage(20, LogLevel.Warning, "Topics {Topics}: catching up to the committed seqs before a replication link's welcome failed; the repair loop brings the rest")]
        public static partial void SiteCatchUpFailed(ILogger logger, string topics, Exception exception);
    }
}
