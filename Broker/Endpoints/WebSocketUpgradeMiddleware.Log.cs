using System.Net;

namespace TopicBroker.Endpoints;

internal sealed partial class WebSocketUpgradeMiddleware
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "WebSocket handshake from {RemoteAddress} ended before the upgrade: {Reason}")]
        public static partial void HandshakeFailed(ILogger logger, IPAddress? remoteAddress, string reason);

        [LoggerMessage(2, LogLevel.Debug, "WebSocket to {Topic} from {RemoteAddress} upgraded below HTTP")]
        public static partial void Upgraded(ILogger logger, string topic, IPAddress? remoteAddress);
    }
}
