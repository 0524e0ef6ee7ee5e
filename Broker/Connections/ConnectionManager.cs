using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.Options;
using TopicBroker.Diagnostics;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Topics;

namespace TopicBroker.Connections;

/// <summary>
/// Owns every WebSocket connection: admits it (topic, caps, shutdown), runs it, and removes it.
/// Per-topic fan-out lives in <see cref="TopicState"/>; this class broadcasts through it and keeps
/// the registry the heartbeat and the shutdown walk.
/// </summary>
internal sealed partial class ConnectionManager
{
    private readonly ConcurrentDictionary<long, WebSocketConnection> _connections = new();
    private readonly TopicRegistry _topics;
    private readonly ClientMessageHandler _messageHandler;
    private readonly ILogger<ConnectionManager> _logger;
    private readonly ILogger<WebSocketConnection> _connectionLogger;
    private long _nextConnectionId;
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _shuttingDown;

    public ConnectionManager(
        TopicRegistry topics,
        ClientMessageHandler messageHandler,
        SendWorkers workers,
        IOptions<BrokerOptions> options,
        TimeProvider timeProvider,
        ILogger<ConnectionManager> logger,
        ILogger<WebSocketConnection> connectionLogger)
    {
        _topics = topics;
        _messageHandler = messageHandler;
        Workers = workers;
        Options = options.Value;
        TimeProvider = timeProvider;
        _logger = logger;
        _connectionLogger = connectionLogger;
        _admission = new ConnectionAdmission(Options.MaxConnections, Options.MaxConnectionsPerAddress);
    }

    private readonly ConnectionAdmission _admission;

    public BrokerOptions Options { get; }

    /// <summary>The fan-out workers that write to every connection's socket.</summary>
    public SendWorkers Workers { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>Cluster mode only, set once at start-up: the catch-up a resume ahead of this node waits for.</summary>
    public ITopicCatchUp? CatchUp { get; set; }

    /// <summary>Set once at start-up (the metrics read this manager, so they cannot be a constructor argument).</summary>
    public BrokerMetrics? Metrics { get; set; }

    public int ConnectionCount => _connections.Count;

    /// <summary>Distinct remote addresses with open WebSocket connections (behind a trusted proxy, the clients' own).</summary>
    public int RemoteAddressCount => _admission.AddressCount;

    /// <summary>Slow-consumer closes on every topic (each topic counts its own).</summary>
    public long SlowConsumerCloses => _topics.All.Sum(topic => topic.Counters.SlowConsumerCloses);

    public bool IsShuttingDown => _shuttingDown;

    public ICollection<WebSocketConnection> Connections => _connections.Values;

    /// <summary>Runs an accepted WebSocket until it closes. Never throws for connection failures.</summary>
    public async Task RunAsync(WebSocket socket, CoalescingStream? stream, string topicName, long? since, IPAddress? remoteAddress, DateTimeOffset tokenExpiresAt)
    {
        var id = Interlocked.Increment(ref _nextConnectionId);
        if (_shuttingDown)
        {
            await RefuseAsync(socket, id, topicName, CloseCodes.GoingAway, CloseCodes.ShuttingDownReason).ConfigureAwait(false);
            return;
        }

        var address = remoteAddress ?? IPAddress.None;
        if (!_admission.TryAdmit(address, out var refusal))
        {
            await RefuseAsync(socket, id, topicName, CloseCodes.PolicyViolation, refusal!).ConfigureAwait(false);
            return;
        }

        // One method, not two: an idle connection keeps every awaiting method's state alive.
        try
        {
            // A site topic of a site with no data yet is created here (protocol.md "Sites and upstream replication").
            var lookup = _topics.TryResolve(topicName, out var topic);
            if (lookup == TopicLookup.TooManySites)
            {
                await RefuseAsync(socket, id, topicName, CloseCodes.PolicyViolation, CloseCodes.TooManySitesReason).ConfigureAwait(false);
                return;
            }

            if (topic is null)
            {
                await RefuseAsync(socket, id, topicName, CloseCodes.Unsupported, CloseCodes.UnknownTopicReason(topicName)).ConfigureAwait(false);
                return;
            }

            if (since is { } resumeAfter && resumeAfter > topic.Seq && CatchUp is { } catchUp)
            {
                // A cluster node behind the one the client came from applies up to since first
                // (protocol.md "Cluster"), so the resume replays instead of sending a snapshot.
                using var catchUpTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), TimeProvider);
                await catchUp.CatchUpAsync(topic, resumeAfter, catchUpTimeout.Token).ConfigureAwait(false);
            }

            if (!topic.TryReserveSlot(Options.MaxConnectionsPerTopic))
            {
                Log.TopicFull(_logger, id, topicName, Options.MaxConnectionsPerTopic);
                await RefuseAsync(socket, id, topicName, CloseCodes.PolicyViolation, CloseCodes.TooManyConnectionsReason).ConfigureAwait(false);
                return;
            }

            var connection = new WebSocketConnection(
                id, topic, socket, stream, remoteAddress, this, _messageHandler,
                new WebSocketConnection.ConnectionSettings(Options.SendQueueCapacity, Options.MaxMessageBytes, Options.ClientMessagesPerSecond, Options.PolicyFor(topicName)),
                TimeProvider.GetTimestamp(), _messageHandler.ToTimestamp(tokenExpiresAt), _connectionLogger);
            _connections[id] = connection;
            try
            {
                // Half the queue at most is spent on a replay, so a resume never starts as a slow consumer.
                topic.Subscribe(connection, since, replayLimit: Options.SendQueueCapacity / 2);
                if (_shuttingDown)
                {
                    // Shutdown began between the check above and the registration; this connection may
                    // have been missed by the shutdown walk.
                    RequestShutdown(connection);
                }

                Log.ConnectionOpened(_logger, id, topicName, remoteAddress);
                await connection.RunAsync().ConfigureAwait(false);
            }
            finally
            {
                // Every ending passes through RequestClose, which leaves the topic; this one only
                // matters if RunAsync itself threw.
                connection.RequestClose(CloseCodes.InternalError, CloseCodes.InternalErrorReason, CloseDrain.Nothing);
                _connections.TryRemove(id, out _);
                topic.Counters.AddFramesSentByClosedConnection(connection.FramesSent);
                Log.ConnectionRemoved(_logger, id, topicName, connection.FramesSent);
                if (_shuttingDown && _connections.IsEmpty)
                {
                    _allClosed.TrySetResult();
                }
            }
        }
        finally
        {
            _admission.Release(address);
        }
    }

    /// <summary>Fans a frame that changes no state (a ping) out to one topic's subscribers.</summary>
    public void Broadcast(TopicState topic, OutboundFrame frame) => topic.Broadcast(frame);

    public void OnRateLimited(WebSocketConnection connection) =>
        Log.RateLimited(_logger, connection.Id, connection.Topic.Name, Options.ClientMessagesPerSecond);

    public void OnSlowConsumer(WebSocketConnection connection)
    {
        Log.SlowConsumer(_logger, connection.Id, connection.Topic.Name, Options.SendQueueCapacity);
    }

    /// <summary>
    /// Graceful shutdown (protocol.md "Close codes", 1001): refuse newcomers, send every client its
    /// queued frames and a shutdown frame, close, and wait for the closes up to the timeout.
    /// </summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken)
    {
        _shuttingDown = true;
        var connections = _connections.Values.ToArray();
        Log.ShuttingDown(_logger, connections.Length);
        foreach (var connection in connections)
        {
            RequestShutdown(connection);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.ShutdownTimeout);
        try
        {
            if (!_connections.IsEmpty)
            {
                await _allClosed.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            Log.ShutdownTimedOut(_logger, _connections.Count);
            foreach (var connection in _connections.Values)
            {
                connection.Abort();
            }
        }
    }

    /// <summary>
    /// A cluster node that lost its store (protocol.md "Cluster"): every client gets its queued
    /// frames, a shutdown frame with resumeFrom, and a 1001 close, so it resumes on another node.
    /// Newcomers are still admitted (and sent on by the next call).
    /// </summary>
    public void CloseAllToResumeElsewhere()
    {
        foreach (var connection in _connections.Values)
        {
            RequestShutdown(connection, CloseCodes.StoreUnavailableReason);
        }
    }

    private void RequestShutdown(WebSocketConnection connection, string reason = CloseCodes.ShuttingDownReason)
    {
        var spreadMs = (long)Options.ShutdownReconnectSpread.TotalMilliseconds;
        var reconnectAfterMs = spreadMs <= 0 ? 0 : Random.Shared.NextInt64(spreadMs);
        var frame = FrameSerializer.Shutdown(connection.Topic.Name, reason, reconnectAfterMs, connection.Topic.Seq);
        connection.RequestClose(CloseCodes.GoingAway, reason, CloseDrain.Everything, frame, Options.ShutdownTimeout);
    }

    /// <summary>Closes a socket that never became a connection: no sender exists yet, so this is its only writer.</summary>
    private async Task RefuseAsync(WebSocket socket, long id, string topic, WebSocketCloseStatus status, string reason)
    {
        Log.ConnectionRefused(_logger, id, topic, (int)status, reason);
        using var timeout = new CancellationTokenSource(Options.CloseTimeout, TimeProvider);
        try
        {
            await socket.CloseAsync(status, reason, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
        {
            socket.Abort();
        }
    }
}
