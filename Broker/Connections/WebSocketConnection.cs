using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using TopicBroker.Diagnostics;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Security;
using TopicBroker.Topics;

namespace TopicBroker.Connections;

/// <summary>
/// One subscribed WebSocket. It runs exactly two loops, awaited together: the receive loop reads
/// client messages, the send loop drains the <see cref="SendQueue"/>. Only the send loop writes
/// to the socket; everything else enqueues (<see cref="Deliver"/>, <see cref="EnqueueReply"/>) or
/// asks for a close (<see cref="RequestClose"/>), which the send loop carries out.
/// </summary>
internal sealed partial class WebSocketConnection : ITopicSubscriber
{
    private readonly WebSocket _socket;
    private readonly CoalescingStream? _stream;
    private readonly SendQueue _queue;
    private readonly WakeSignal _wake = new();
    private readonly ConnectionManager _manager;
    private readonly ClientMessageHandler _messageHandler;
    private readonly ILogger _logger;
    private readonly int _maxMessageBytes;
    private InboundRateLimiter _rateLimiter;
    private long _tokenExpiresTimestamp;
    private CloseRequest? _close;
    private long _lastActivityTimestamp;
    private long _closeDeadlineTimestamp = long.MaxValue;
    private long _framesSent;

    public WebSocketConnection(
        long id,
        TopicState topic,
        WebSocket socket,
        CoalescingStream? stream,
        IPAddress? remoteAddress,
        ConnectionManager manager,
        ClientMessageHandler messageHandler,
        ConnectionSettings settings,
        long nowTimestamp,
        long tokenExpiresTimestamp,
        ILogger logger)
    {
        Id = id;
        Topic = topic;
        RemoteAddress = remoteAddress;
        _socket = socket;
        _stream = stream;
        _manager = manager;
        _messageHandler = messageHandler;
        _maxMessageBytes = settings.MaxMessageBytes;
        _rateLimiter = new InboundRateLimiter(settings.MessagesPerSecond, manager.TimeProvider.TimestampFrequency, nowTimestamp);
        _tokenExpiresTimestamp = tokenExpiresTimestamp;
        _logger = logger;
        _lastActivityTimestamp = nowTimestamp;
        _queue = new SendQueue(settings.QueueCapacity, settings.Policy, topic.Counters);
    }

    public long Id { get; }

    public TopicState Topic { get; }

    public IPAddress? RemoteAddress { get; }

    /// <inheritdoc/>
    public int SubscriberIndex { get; set; } = -1;

    public long LastActivityTimestamp => Volatile.Read(ref _lastActivityTimestamp);

    public long CloseDeadlineTimestamp => Volatile.Read(ref _closeDeadlineTimestamp);

    public bool IsClosing => Volatile.Read(ref _close) is not null;

    public long FramesSent => Volatile.Read(ref _framesSent);

    /// <summary>When the connection's token expires (TimeProvider timestamp); long.MaxValue without auth.</summary>
    public long TokenExpiresTimestamp
    {
        get => Volatile.Read(ref _tokenExpiresTimestamp);
        set => Volatile.Write(ref _tokenExpiresTimestamp, value);
    }

    /// <inheritdoc/>
    public bool TryEnqueueInitial(OutboundFrame frame)
    {
        var queued = _queue.TryEnqueueInitial(frame, out var wake);
        if (wake)
        {
            _wake.Signal();
        }

        return queued;
    }

    /// <summary>
    /// Fan-out's entry point: queue the frame, or apply the topic's delivery policy when the queue
    /// is full. Never waits; false means this subscriber overflowed (see <see cref="CloseAsSlowConsumer"/>).
    /// </summary>
    public bool Deliver(OutboundFrame frame)
    {
        var result = _queue.Deliver(frame);
        if (result.NeedsWake())
        {
            _wake.Signal();
        }

        return result != EnqueueResult.Overflowed;
    }

    /// <summary>Closes with 1013 after an overflow; the queue already took nothing more and counted what it dropped.</summary>
    public void CloseAsSlowConsumer()
    {
        if (RequestClose(CloseCodes.TryAgainLater, CloseCodes.SlowConsumerReason, drain: false))
        {
            _manager.OnSlowConsumer(this);
        }
    }

    /// <summary>Queues a reply of the connection's own (pong, error, auth); a full queue applies the delivery policy.</summary>
    public void EnqueueReply(OutboundFrame frame)
    {
        var result = _queue.EnqueueReply(frame);
        if (result.NeedsWake())
        {
            _wake.Signal();
        }
        else if (result == EnqueueResult.Overflowed)
        {
            CloseAsSlowConsumer();
        }
    }

    /// <summary>
    /// Asks the send loop to close the socket. With <paramref name="drain"/> the frames already
    /// queued go out first; then <paramref name="finalFrame"/>, if any; then the close frame.
    /// Only the first request counts. Returns whether this call was the first.
    /// </summary>
    public bool RequestClose(WebSocketCloseStatus status, string reason, bool drain, OutboundFrame? finalFrame = null, TimeSpan? timeout = null)
    {
        var request = new CloseRequest(status, reason, drain, finalFrame);
        if (Interlocked.CompareExchange(ref _close, request, null) is not null)
        {
            return false;
        }

        var deadline = _manager.TimeProvider.GetTimestamp()
            + (long)((timeout ?? _manager.Options.CloseTimeout).TotalSeconds * _manager.TimeProvider.TimestampFrequency);
        Volatile.Write(ref _closeDeadlineTimestamp, deadline);
        if (_queue.Complete())
        {
            _wake.Signal();
        }

        // Leave the fan-out and free the topic slot now, before the close frame is sent: a client
        // that has seen its close can count on its slot being free (protocol.md "Close codes", 1008).
        Topic.Unsubscribe(this);
        Topic.ReleaseSlot();
        return true;
    }

    /// <summary>Empties the queue without sending: for the fan-out micro-benchmark, which runs no send loop.</summary>
    internal void DrainForBenchmark() => _queue.DiscardForBenchmark();

    /// <summary>Drops the TCP connection at once; both loops end with an error they expect.</summary>
    public void Abort()
    {
        RequestClose(CloseCodes.InternalError, CloseCodes.InternalErrorReason, drain: false);
        _socket.Abort();
    }

    public async Task RunAsync()
    {
        var sending = SendLoopAsync();
        var receiving = ReceiveLoopAsync();

        // The send loop ends once it has sent the close frame (or the socket failed); the receive
        // loop then waits for the client's close frame, bounded by the heartbeat's close deadline.
        await sending.ConfigureAwait(false);
        await receiving.ConfigureAwait(false);
    }

    private async Task SendLoopAsync()
    {
        var batch = new List<OutboundFrame>();
        try
        {
            while (true)
            {
                await _wake.WaitAsync().ConfigureAwait(false);

                // Everything taken in this pass goes to the socket in one write (see CoalescingStream).
                _stream?.BeginBatch();
                while (_close is not { Drain: false } && _queue.TakeBatch(batch))
                {
                    foreach (var frame in batch)
                    {
                        if (_close is { Drain: false })
                        {
                            break;
                        }

                        await SendFrameAsync(frame).ConfigureAwait(false);
                    }

                    batch.Clear();
                }

                // What was gathered before a close request still goes out, ahead of the close.
                if (_stream is not null)
                {
                    await _stream.EndBatchAsync().ConfigureAwait(false);
                }

                // A drained queue with a close requested: with drain, everything queued is out now.
                if (_close is not null)
                {
                    break;
                }
            }

            batch.Clear();
            var close = Volatile.Read(ref _close)!;
            if (close.FinalFrame is not null && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.SendAsync(close.FinalFrame.Payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(close.Status, close.Reason, CancellationToken.None).ConfigureAwait(false);
                // The client now has CloseTimeout to answer, however long the drain was allowed.
                var answerBy = _manager.TimeProvider.GetTimestamp()
                    + (long)(_manager.Options.CloseTimeout.TotalSeconds * _manager.TimeProvider.TimestampFrequency);
                if (answerBy < CloseDeadlineTimestamp)
                {
                    Volatile.Write(ref _closeDeadlineTimestamp, answerBy);
                }
            }

            Log.ConnectionClosing(_logger, Id, Topic.Name, (int)close.Status, close.Reason);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            Log.SendFailed(_logger, Id, Topic.Name, ex);
            Abort();
        }
        catch (Exception ex)
        {
            // A bug, not the network: logged once, and the client is told with 1011 if the socket still can.
            Log.LoopFaulted(_logger, Id, Topic.Name, "send", ex);
            RequestClose(CloseCodes.InternalError, CloseCodes.InternalErrorReason, drain: false);
            await CloseAfterFaultAsync().ConfigureAwait(false);
        }
    }

    private async Task CloseAfterFaultAsync()
    {
        try
        {
            if (_stream is not null)
            {
                await _stream.EndBatchAsync().ConfigureAwait(false);
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                var close = Volatile.Read(ref _close)!;
                await _socket.CloseOutputAsync(close.Status, close.Reason, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsConnectionFailure(ex) || ex is InvalidOperationException)
        {
            _socket.Abort();
        }
    }

    private async ValueTask SendFrameAsync(OutboundFrame frame)
    {
        if (_stream is null)
        {
            await _socket.SendAsync(frame.Payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
        }
        else if (_stream.Gather(frame.WireBytes))
        {
            // Frame once: the shared, pre-built frame bytes go straight to the transport; the
            // WebSocket only writes its own control frames (pongs, the close), never interleaved.
            await _stream.WriteGatheredAsync().ConfigureAwait(false);
        }

        if (++_framesSent % BrokerMetrics.LatencySampleEvery == 0 && frame.IngestTimestamp != 0)
        {
            _manager.Metrics?.RecordPublishToSend(Topic, frame.IngestTimestamp);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            while (true)
            {
                // A zero-byte read waits for the next message without holding a buffer, so an idle
                // connection costs no receive memory.
                var peek = await _socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
                Touch();
                if (peek.MessageType == WebSocketMessageType.Close)
                {
                    OnClientClose();
                    return;
                }

                if (IsClosing)
                {
                    // We asked to close: whatever the client still sends is read and ignored
                    // until its close frame arrives.
                    await DiscardMessageAsync(peek).ConfigureAwait(false);
                    continue;
                }

                if (peek.MessageType == WebSocketMessageType.Binary)
                {
                    RequestClose(CloseCodes.Unsupported, CloseCodes.BinaryReason, drain: false);
                    await DiscardMessageAsync(peek).ConfigureAwait(false);
                    continue;
                }

                await ReceiveTextMessageAsync(peek).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            Log.ReceiveEnded(_logger, Id, Topic.Name, ex.GetType().Name);
            Abort();
        }
        catch (Exception ex)
        {
            // A bug, not the network: logged once; the send loop sends the 1011 close.
            Log.LoopFaulted(_logger, Id, Topic.Name, "receive", ex);
            RequestClose(CloseCodes.InternalError, CloseCodes.InternalErrorReason, drain: false);
        }
    }

    private async Task ReceiveTextMessageAsync(ValueWebSocketReceiveResult peek)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(4096, _maxMessageBytes + 1));
        try
        {
            var count = 0;
            var result = peek;
            while (!result.EndOfMessage)
            {
                if (count == buffer.Length)
                {
                    if (buffer.Length > _maxMessageBytes)
                    {
                        RequestClose(CloseCodes.MessageTooBig, CloseCodes.TooBigReason, drain: false);
                        await DiscardMessageAsync(result).ConfigureAwait(false);
                        return;
                    }

                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, _maxMessageBytes + 1));
                    buffer.AsSpan(0, count).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                result = await _socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    OnClientClose();
                    return;
                }

                count += result.Count;
            }

            if (count > _maxMessageBytes)
            {
                RequestClose(CloseCodes.MessageTooBig, CloseCodes.TooBigReason, drain: false);
                return;
            }

            if (!_rateLimiter.TryTake(_manager.TimeProvider.GetTimestamp()))
            {
                _manager.OnRateLimited(this);
                RequestClose(CloseCodes.PolicyViolation, CloseCodes.RateLimitReason, drain: false);
                return;
            }

            await _messageHandler.HandleAsync(this, buffer.AsMemory(0, count)).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task DiscardMessageAsync(ValueWebSocketReceiveResult result)
    {
        if (result.EndOfMessage)
        {
            return;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            do
            {
                result = await _socket.ReceiveAsync(scratch.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    OnClientClose();
                    return;
                }
            }
            while (!result.EndOfMessage);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private void OnClientClose()
    {
        // Echo the client's code, as RFC 6455 section 5.5.1 asks; the send loop sends it.
        var status = _socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure;
        RequestClose(status == WebSocketCloseStatus.Empty ? WebSocketCloseStatus.NormalClosure : status, string.Empty, drain: false);
    }

    private void Touch() => Volatile.Write(ref _lastActivityTimestamp, _manager.TimeProvider.GetTimestamp());

    // Kestrel's ConnectionAbortedException derives from OperationCanceledException.
    private static bool IsConnectionFailure(Exception ex) =>
        ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException;

    /// <summary>Per-connection settings fixed at admission.</summary>
    internal readonly record struct ConnectionSettings(int QueueCapacity, int MaxMessageBytes, int MessagesPerSecond, DeliveryPolicy Policy);

    private sealed record CloseRequest(WebSocketCloseStatus Status, string Reason, bool Drain, OutboundFrame? FinalFrame);
}
