namespace TopicBroker.Connections;

internal sealed partial class WebSocketConnection
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Connection {ConnectionId} on {Topic} closing with {CloseStatus} {Reason}")]
        public static partial void ConnectionClosing(ILogger logger, long connectionId, string topic, int closeStatus, string reason);

        [LoggerMessage(2, LogLevel.Debug, "Connection {ConnectionId} on {Topic}: send failed")]
        public static partial void SendFailed(ILogger logger, long connectionId, string topic, Exception exception);

        [LoggerMessage(3, LogLevel.Debug, "Connection {ConnectionId} on {Topic}: receive ended ({Error})")]
        public static partial void ReceiveEnded(ILogger logger, long connectionId, string topic, string error);

        [LoggerMessage(4, LogLevel.Debug, "Connection {ConnectionId} on {Topic}: protocol violation ({Error}); lingering so the client reads the close")]
        public static partial void ProtocolViolation(ILogger logger, long connectionId, string topic, string error);

        [LoggerMessage(5, LogLevel.Error, "Connection {ConnectionId} on {Topic}: the {Loop} loop failed; closing with 1011")]
        public static partial void LoopFaulted(ILogger logger, long connectionId, string topic, string loop, Exception exception);
    }
}
