namespace TopicBroker.Ingest;

internal sealed partial class BridgeConnection
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Bridge connection {BridgeConnectionId} opened from {RemoteEndPoint}")]
        public static partial void Opened(ILogger logger, long bridgeConnectionId, string? remoteEndPoint);

        [LoggerMessage(2, LogLevel.Debug, "Bridge connection {BridgeConnectionId} closed after {LinesRead} lines")]
        public static partial void Closed(ILogger logger, long bridgeConnectionId, long linesRead);

        [LoggerMessage(3, LogLevel.Debug, "Bridge connection {BridgeConnectionId}: read ended ({Error})")]
        public static partial void ReadEnded(ILogger logger, long bridgeConnectionId, string error);

        [LoggerMessage(6, LogLevel.Debug, "Bridge connection {BridgeConnectionId} stopped reading for shutdown")]
        public static partial void StoppedReading(ILogger logger, long bridgeConnectionId);

        [LoggerMessage(5, LogLevel.Information, "Bridge connection {BridgeConnectionId} closed: {Why}")]
        public static partial void Expired(ILogger logger, long bridgeConnectionId, string why);

        [LoggerMessage(4, LogLevel.Debug, "Bridge connection {BridgeConnectionId}: write ended ({Error})")]
        public static partial void WriteEnded(ILogger logger, long bridgeConnectionId, string error);

        [LoggerMessage(7, LogLevel.Debug, "Bridge connection {BridgeConnectionId}: keep-alive (a blank line)")]
        public static partial void KeepAlive(ILogger logger, long bridgeConnectionId);
    }
}
