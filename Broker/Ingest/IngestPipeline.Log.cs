namespace TopicBroker.Ingest;

internal sealed partial class IngestPipeline
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Topic {Topic} loaded at seq {Seq} with {EntityCount} entities and {HistoryCount} changes of history")]
        public static partial void TopicLoaded(ILogger logger, string topic, long seq, int entityCount, int historyCount);

        [LoggerMessage(2, LogLevel.Error, "The store cannot commit; publishes are answered 'unavailable' until it can")]
        public static partial void StoreFailed(ILogger logger, Exception exception);

        [LoggerMessage(3, LogLevel.Information, "The store commits again")]
        public static partial void StoreRecovered(ILogger logger);

        [LoggerMessage(4, LogLevel.Information, "Committed and broadcast {Count} changes written by other programs")]
        public static partial void ExternalChangesCommitted(ILogger logger, int count);

        [LoggerMessage(5, LogLevel.Warning, "Polling the store for external writes failed")]
        public static partial void PollFailed(ILogger logger, Exception exception);

        [LoggerMessage(6, LogLevel.Information, "Ingest drained; {CommittedChanges} changes committed since start")]
        public static partial void Drained(ILogger logger, long committedChanges);

        [LoggerMessage(40, LogLevel.Warning, "Site {Site} is in the store but not loaded: Broker:Sites:MaxSites ({MaxSites}) sites exist already")]
        public static partial void StoredSiteSkipped(ILogger logger, string site, int maxSites);

        [LoggerMessage(41, LogLevel.Information, "Topic {Topic} resynchronised at seq {Seq} with {EntityCount} entities")]
        public static partial void TopicResynchronised(ILogger logger, string topic, long seq, int entityCount);

        [LoggerMessage(42, LogLevel.Error, "Replicated change {ReplicatedSeq} of {Topic} was stored at seq {StoredSeq}: another writer touched the site topic")]
        public static partial void ReplicatedSeqMismatch(ILogger logger, string topic, long replicatedSeq, long storedSeq);
    }
}
