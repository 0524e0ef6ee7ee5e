using TopicBroker.Connections;
using TopicBroker.Ingest;

namespace TopicBroker.Hosting;

/// <summary>
/// Orders a graceful shutdown. <see cref="StoppingAsync"/> runs before any hosted service stops,
/// Kestrel included, so while it works the server still answers: publishers first stop and get
/// their in-flight changes committed and acked, then WebSocket clients get a shutdown frame whose
/// resumeFrom is final, then a 1001 close. Only after that does Kestrel stop.
/// </summary>
internal sealed partial class ShutdownCoordinator(
    IEnumerable<IIngestSource> sources,
    IngestPipeline pipeline,
    ConnectionManager connections,
    ILogger<ShutdownCoordinator> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        Log.Stopping(logger);
        try
        {
            foreach (var source in sources)
            {
                await source.StopAcceptingAsync(cancellationToken).ConfigureAwait(false);
            }

            await pipeline.DrainAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // However the publishers' drain ended, WebSocket clients still get their shutdown frame.
            await connections.ShutdownAsync(cancellationToken).ConfigureAwait(false);
        }

        Log.Stopped(logger);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Graceful shutdown: draining publishers, then closing WebSocket clients")]
        public static partial void Stopping(ILogger logger);

        [LoggerMessage(2, LogLevel.Information, "Graceful shutdown finished")]
        public static partial void Stopped(ILogger logger);
    }
}
