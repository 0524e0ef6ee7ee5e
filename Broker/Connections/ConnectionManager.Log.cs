using System.Net;

namespace TopicBroker.Connections;

internal sealed partial class ConnectionManager
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Connection {ConnectionId} opened on {Topic} from {RemoteAddress}")]
        public static partial void ConnectionOpened(ILogger logger, long connectionId, string topic, IPAddress? remoteAddress);

        [LoggerMessage(2, LogLevel.Debug, "Connection {ConnectionId} on {Topic} removed after {FramesSent} frames")]
        public static partial void ConnectionRemoved(ILogger logger, long connectionId, string topic, long framesSent);

        [LoggerMessage(3, LogLevel.Warning, "Connection {ConnectionId} to {Topic} refused with {CloseStatus}: {Reason}")]
        public static partial void ConnectionRefused(ILogger logger, long connectionId, string topic, int closeStatus, string reason);

        [LoggerMessage(4, LogLevel.Warning, "Topic {Topic} is at its cap of {MaxConnections} connections; connection {ConnectionId} refused")]
        public static partial void TopicFull(ILogger logger, long connectionId, string topic, int maxConnections);

        [LoggerMessage(5, LogLevel.Warning, "Connection {ConnectionId} on {Topic} is a slow consumer (queue of {QueueCapacity} full); closing with 1013")]
        public static partial void SlowConsumer(ILogger logger, long connectionId, string topic, int queueCapacity);

        [LoggerMessage(6, LogLevel.Information, "Shutting down {ConnectionCount} WebSocket connections")]
        public static partial void ShuttingDown(ILogger logger, int connectionCount);

        [LoggerMessage(8, LogLevel.Warning, "Connection {ConnectionId} on {Topic} sent more than {MessagesPerSecond} messages a second; closing with 1008")]
        public static partial void RateLimited(ILogger logger, long connectionId, string topic, int messagesPerSecond);

        [LoggerMessage(7, LogLevel.Warning, "Shutdown timed out with {ConnectionCount} connections still open; aborting them")]
        public static partial void ShutdownTimedOut(ILogger logger, int connectionCount);
    }
}
