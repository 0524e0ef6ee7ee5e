namespace TopicBroker.Hosting;

internal static partial class PeriodicLoop
{
    private static partial class Log
    {
        [LoggerMessage(9001, LogLevel.Error, "{Loop} tick failed; the loop goes on")]
        public static partial void TickFailed(ILogger logger, string loop, Exception exception);

        [LoggerMessage(9002, LogLevel.Debug, "{Loop} tick failed again ({FailedTicks} in a row)")]
        public static partial void TickFailedAgain(ILogger logger, string loop, int failedTicks, Exception exception);

        [LoggerMessage(9003, LogLevel.Information, "{Loop} tick succeeded again after {FailedTicks} failed ticks")]
        public static partial void Recovered(ILogger logger, string loop, int failedTicks);
    }
}
