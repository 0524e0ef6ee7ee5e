namespace TopicBroker.Hosting;

internal static partial class StaticContent
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Serving the pages built into the broker at {RequestPath}")]
        public static partial void ServingEmbedded(ILogger logger, string requestPath);

        [LoggerMessage(2, LogLevel.Information, "Serving the pages at {RequestPath} from {Folder}")]
        public static partial void ServingFolder(ILogger logger, string requestPath, string folder);
    }
}
