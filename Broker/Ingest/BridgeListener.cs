using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;

namespace TopicBroker.Ingest;

/// <summary>
/// The robot TCP bridge (protocol.md "TCP bridge"): accepts connections on
/// <see cref="TcpBridgeOptions.Port"/> and runs a <see cref="BridgeConnection"/> for each. The port
/// is bound in <see cref="StartAsync"/>, so it is known (and the bridge ready) once the host has started.
/// </summary>
internal sealed partial class BridgeListener : BackgroundService, IIngestSource
{
    private readonly BrokerOptions _options;
    private readonly ChangeReader _parser;
    private readonly IngestPipeline _pipeline;
    private readonly TokenValidator _tokens;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<BridgeListener> _logger;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ConcurrentDictionary<long, BridgeConnection> _connections = new();
    private readonly CancellationTokenSource _stopAccepting = new();
    private Socket? _listener;
    private long _nextId;

    public BridgeListener(
        IOptions<BrokerOptions> options,
        ChangeReader parser,
        IngestPipeline pipeline,
        TokenValidator tokens,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory)
    {
        _tokens = tokens;
        _timeProvider = timeProvider;
        _options = options.Value;
        _parser = parser;
        _pipeline = pipeline;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<BridgeListener>();
    }

    /// <summary>The bound endpoint, once started (kept after the listener is closed).</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    public int ConnectionCount => _connections.Count;

    public bool IsListening => _listener is not null && !_stopAccepting.IsCancellationRequested;

    /// <summary>Test seam: awaited after a socket is accepted, before its connection is registered.</summary>
    internal Func<Task>? OnAcceptedForTest { get; set; }

    /// <summary>Test seam: awaited after shutdown took its list of connections, before it stops each.</summary>
    internal Func<Task>? OnStopWalkForTest { get; set; }

    /// <summary>Test seam: called once a connection has ended, been removed and disposed.</summary>
    internal Action<long>? OnConnectionRemovedForTest { get; set; }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.TcpBridge.Enabled)
        {
            return Task.CompletedTask;
        }

        var endpoint = new IPEndPoint(IPAddress.Parse(_options.TcpBridge.Address), _options.TcpBridge.Port);
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endpoint);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        Log.Listening(_logger, LocalEndPoint!.ToString());
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _stopAccepting.Token);
        var running = new List<Task>();
        try
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = await _listener!.AcceptAsync(stop.Token).ConfigureAwait(false);
                    socket.NoDelay = true;
                }
                catch (SocketException ex) when (!stop.IsCancellationRequested)
                {
                    // One failed accept (a connection reset in the backlog, out of descriptors) must
                    // not end the bridge, or the host with it.
                    Log.AcceptFailed(_logger, ex.SocketErrorCode);
                    continue;
                }

                if (OnAcceptedForTest is { } accepted)
                {
                    await accepted().ConfigureAwait(false);
                }

                running.RemoveAll(t => t.IsCompleted);
                if (_connections.Count >= _options.TcpBridge.MaxConnections)
                {
                    running.Add(RefuseAsync(socket));
                    continue;
                }

                var id = Interlocked.Increment(ref _nextId);
                var connection = new BridgeConnection(
                    id, socket, _parser, _pipeline, _tokens,
                    new BridgeConnection.Limits(_options.MaxMessageBytes, _options.TcpBridge.IdleTimeout, _options.HandshakeTimeout),
                    _timeProvider,
                    _loggerFactory.CreateLogger<BridgeConnection>());
                _connections[id] = connection;
                if (_stopAccepting.IsCancellationRequested)
                {
                    // Shutdown began after this socket was accepted, and its walk may have run
                    // before the registration above: stop it here. StopAcceptingAsync cancels
                    // before it walks, so either the walk sees this connection or this check sees
                    // the cancel (StopReading twice is harmless).
                    connection.StopReading();
                }

                running.Add(RunConnectionAsync(connection));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException && stop.IsCancellationRequested)
        {
        }

        // Every connection task has an owner: this loop waits for them before it ends.
        await Task.WhenAll(running).ConfigureAwait(false);
    }

    /// <summary>
    /// Shutdown, step one: stop accepting, stop reading new lines, and return once every line
    /// already read has been answered (the pipeline is still running then).
    /// </summary>
    public async Task StopAcceptingAsync(CancellationToken cancellationToken)
    {
        if (_listener is null)
        {
            return;
        }

        _stopAccepting.Cancel();
        _listener.Dispose();
        // A snapshot: a connection in it may end, and be disposed, before its turn comes;
        // StopReading is safe on it all the same.
        var connections = _connections.Values.ToArray();
        if (OnStopWalkForTest is { } walking)
        {
            await walking().ConfigureAwait(false);
        }

        foreach (var connection in connections)
        {
            connection.StopReading();
        }

        if (ExecuteTask is { } accepting)
        {
            await accepting.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        Log.Stopped(_logger);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await StopAcceptingAsync(cancellationToken).ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _listener?.Dispose();
        _stopAccepting.Dispose();
        base.Dispose();
    }

    /// <summary>Over Broker:TcpBridge:MaxConnections: one error line, then close (protocol.md "TCP bridge").</summary>
    private async Task RefuseAsync(Socket socket)
    {
        Log.Refused(_logger, _options.TcpBridge.MaxConnections);
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var answer = Protocol.FrameSerializer.Answer(PublishResult.Rejected(
            Protocol.ErrorCodes.TooManyConnections, $"The bridge already has Broker:TcpBridge:MaxConnections ({_options.TcpBridge.MaxConnections}) connections.").ToAnswer());
        try
        {
            await stream.WriteAsync(answer.Concat("\n"u8.ToArray()).ToArray()).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
        }
    }

    private async Task RunConnectionAsync(BridgeConnection connection)
    {
        await Task.Yield();
        try
        {
            await connection.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ConnectionFailed(_logger, connection.Id, ex);
        }
        finally
        {
            _connections.TryRemove(connection.Id, out _);
            connection.Dispose();
            OnConnectionRemovedForTest?.Invoke(connection.Id);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "TCP bridge listening on {EndPoint}")]
        public static partial void Listening(ILogger logger, string endPoint);

        [LoggerMessage(2, LogLevel.Information, "TCP bridge stopped; every line read was answered")]
        public static partial void Stopped(ILogger logger);

        [LoggerMessage(5, LogLevel.Warning, "TCP bridge: accepting a connection failed ({SocketError}); still listening")]
        public static partial void AcceptFailed(ILogger logger, SocketError socketError);

        [LoggerMessage(4, LogLevel.Warning, "TCP bridge connection refused: already at {MaxConnections} connections")]
        public static partial void Refused(ILogger logger, int maxConnections);

        [LoggerMessage(3, LogLevel.Error, "Bridge connection {BridgeConnectionId} failed")]
        public static partial void ConnectionFailed(ILogger logger, long bridgeConnectionId, Exception exception);
    }
}
