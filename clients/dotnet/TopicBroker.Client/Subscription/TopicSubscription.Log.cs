using Microsoft.Extensions.Logging;

namespace TopicBroker.Client.Subscription;

public sealed partial class TopicSubscription
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Subscribed to {Topic} (since {Since})")]
        public static partial void Connected(ILogger logger, string topic, long? since);

        [LoggerMessage(2, LogLevel.Warning, "Connecting to {Topic} failed (HTTP {Status}): {Message}")]
        public static partial void ConnectFailed(ILogger logger, string topic, int status, string message);

        [LoggerMessage(3, LogLevel.Warning, "{Topic}: {Reason}; reconnecting in {DelayMs} ms")]
        public static partial void Reconnecting(ILogger logger, string topic, string reason, long delayMs);

        [LoggerMessage(4, LogLevel.Warning, "{Topic}: the broker sent error {Code}: {Message}")]
        public static partial void ErrorFrame(ILogger logger, string topic, string code, string? message);
    }
}
