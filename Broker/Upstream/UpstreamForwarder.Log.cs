namespace TopicBroker.Upstream;

internal sealed partial class UpstreamForwarder
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Upstream link to {Uri} is up; forwarding {TopicCount} topics")]
        public static partial void LinkUp(ILogger logger, Uri uri, int topicCount);

        [LoggerMessage(2, LogLevel.Warning, "Upstream link to {Uri} is down: {Reason}; retrying")]
        public static partial void LinkDown(ILogger logger, Uri uri, string reason);

        [LoggerMessage(3, LogLevel.Warning, "Topic {Topic} is not forwarded: the head office does not take it (not configured there, or not granted to this site's token)")]
        public static partial void TopicNotAtHeadOffice(ILogger logger, string topic);

        [LoggerMessage(4, LogLevel.Information, "Topic {Topic}: the head office holds seq {HeadOfficeSeq}, this broker last saved {SavedSeq} as acknowledged; forwarding resumes after the head office's")]
        public static partial void HeadOfficeHoldsOtherSeq(ILogger logger, string topic, long headOfficeSeq, long savedSeq);

        [LoggerMessage(5, LogLevel.Warning, "Topic {Topic}: the history no longer holds the changes after {Forwarded}; resynchronising the head office with the whole state at seq {Seq}")]
        public static partial void Resynchronising(ILogger logger, string topic, long forwarded, long seq);

        [LoggerMessage(6, LogLevel.Warning, "The upstream positions could not be saved: {Reason}")]
        public static partial void PositionsNotSaved(ILogger logger, string reason);

        [LoggerMessage(7, LogLevel.Warning, "The upstream positions could not be read: {Reason}; the head office's welcome says where to resume")]
        public static partial void PositionsNotLoaded(ILogger logger, string reason);

        [LoggerMessage(8, LogLevel.Warning, "Upstream link to {Uri}: the head office sent a malformed message ({ErrorCode}: {Reason}); dropping the link, the next one resumes from its welcome")]
        public static partial void ProtocolError(ILogger logger, Uri uri, string errorCode, string reason);

        [LoggerMessage(9, LogLevel.Error, "Upstream link to {Uri} failed; dropping it, the next one resumes from its welcome")]
        public static partial void LinkFaulted(ILogger logger, Uri uri, Exception exception);
    }
}
