using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Topics;

namespace TopicBroker.Connections;

/// <summary>
/// One timer for all connections, as Kestrel's heartbeat: each tick pings when a ping is due,
/// closes connections that have been silent past <see cref="BrokerOptions.PongTimeout"/>, and
/// aborts those whose close handshake outlived its deadline. A tick that fails is logged and the
/// loop goes on (<see cref="PeriodicLoop"/>).
/// </summary>
internal sealed partial class ConnectionHeartbeat(
    ConnectionManager connections,
    TopicRegistry topics,
    IOptions<BrokerOptions> options,
    TimeProvider timeProvider,
    ILogger<ConnectionHeartbeat> logger) : BackgroundService
{
    private readonly BrokerOptions _options = options.Value;
    private long _nextPing;

    /// <summary>Fine enough to honour the shortest configured interval, coarse enough to cost nothing.</summary>
    internal TimeSpan TickInterval
    {
        get
        {
            var tick = TimeSpan.FromSeconds(1);
            foreach (var candidate in new[] { _options.PingInterval, _options.PongTimeout / 2, _options.CloseTimeout / 2 })
            {
                if (candidate < tick)
                {
                    tick = candidate;
                }
            }

            return tick < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : tick;
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _nextPing = timeProvider.GetTimestamp() + ToTicks(_options.PingInterval);
        return PeriodicLoop.RunAsync("Heartbeat", TickInterval, timeProvider, Tick, logger, stoppingToken);
    }

    private void Tick()
    {
        var now = timeProvider.GetTimestamp();
        if (now >= _nextPing)
        {
            _nextPing = now + ToTicks(_options.PingInterval);
            PingAll();
        }

        ExpireConnections(now);
    }

    private void PingAll()
    {
        var unixMs = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var topic in topics.All)
        {
            if (topic.SubscriberCount > 0)
            {
                // One frame per topic per tick, shared by all of its subscribers.
                connections.Broadcast(topic, FrameSerializer.Ping(topic.Name, unixMs));
            }
        }
    }

    private void ExpireConnections(long now)
    {
        var pongTimeout = ToTicks(_options.PongTimeout);
        foreach (var connection in connections.Connections)
        {
            if (connection.IsClosing)
            {
                if (now >= connection.CloseDeadlineTimestamp)
                {
                    Log.CloseTimedOut(logger, connection.Id, connection.Topic.Name);
                    connection.Abort();
                }
            }
            else if (now >= connection.TokenExpiresTimestamp)
            {
                Log.TokenExpired(logger, connection.Id, connection.Topic.Name);
                connection.RequestClose(CloseCodes.TokenExpired, CloseCodes.TokenExpiredReason, CloseDrain.OwedReplies);
            }
            else if (now - connection.LastActivityTimestamp > pongTimeout)
            {
                Log.PongTimeout(logger, connection.Id, connection.Topic.Name, _options.PongTimeout);
                connection.RequestClose(CloseCodes.PongTimeout, CloseCodes.PongTimeoutReason, CloseDrain.OwedReplies);
            }
        }
    }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * timeProvider.TimestampFrequency);

    private static partial class Log
    {
        [LoggerMessage(2, LogLevel.Warning, "Connection {ConnectionId} on {Topic} sent nothing for {PongTimeout}; closing with 4408")]
        public static partial void PongTimeout(ILogger logger, long connectionId, string topic, TimeSpan pongTimeout);

        [LoggerMessage(4, LogLevel.Information, "Connection {ConnectionId} on {Topic}: token expired; closing with 4401")]
        public static partial void TokenExpired(ILogger logger, long connectionId, string topic);

        [LoggerMessage(3, LogLevel.Debug, "Connection {ConnectionId} on {Topic} did not finish closing in time; aborting")]
        public static partial void CloseTimedOut(ILogger logger, long connectionId, string topic);
    }
}
