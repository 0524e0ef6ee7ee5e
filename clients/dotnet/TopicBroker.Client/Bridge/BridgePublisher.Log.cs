using Microsoft.Extensions.Logging;

namespace TopicBroker.Client.Bridge;

public sealed partial class BridgePublisher
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Bridge connected to {Host}:{Port}; resending {Resending} unanswered lines")]
        public static partial void Connected(ILogger logger, string host, int port, int resending);

        [LoggerMessage(2, LogLevel.Warning, "Bridge: {Reason}; {Unanswered} lines unanswered; reconnecting in {DelayMs} ms")]
        public static partial void Reconnecting(ILogger logger, string reason, int unanswered, long delayMs);

        [LoggerMessage(3, LogLevel.Warning, "Bridge line rejected and dropped: {Error}: {Message} ({Entity})")]
        public static partial void LineRejected(ILogger logger, string error, string? message, string entity);
    }
}
