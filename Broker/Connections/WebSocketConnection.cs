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
/// One subscribed WebSocket. Its receive loop reads client messages; its sending is done by its
/// fan-out worker (<see cref="SendWorkers"/>), which runs <see cref="RunSendPass"/> whenever the
/// <see cref="SendQueue"/> has work, and by the close sequence that a pass starts once a close is
/// due. Only that one sender writes to the socket, one write at a time; everything else enqueues
/// (<see cref="Deliver"/>, <see cref="EnqueueReply"/>) or asks for a close (<see cref="RequestClose"/>).
/// </summary>
internal sealed partial class WebSocketConnection : ITopicSubscriber
{
    private readonly WebSocket _socket;
    private readonly CoalescingStream? _stream;
    private readonly SendQueue _queue;
    private readonly SendWorker _worker;
    private readonly TaskCompletionSource _sendDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
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
    private volatile bool _lingerOnEnd;

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
        // Replies answer client messages, which the rate limiter bounds to a burst of twice the
        // rate; room for twice that again lets a busy sender fall behind a full-rate client for a
        // moment. More unsent means the client sends but does not read.
        _queue = new SendQueue(settings.QueueCapacity, settings.Policy, topic.Counters, owedCapacity: Math.Max(64, 4 * settings.MessagesPerSecond));
        _worker = manager.Workers.For(id);
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
            _worker.Schedule(this);
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
            _worker.Schedule(this);
        }

        return result != EnqueueResult.Overflowed;
    }

    /// <summary>Closes with 1013 after an overflow; the queue already took nothing more and counted what it dropped.</summary>
    public void CloseAsSlowConsumer()
    {
        // Its full queue cannot be sent; the replies it is owed still are (protocol.md "Close codes").
        if (RequestClose(CloseCodes.TryAgainLater, CloseCodes.SlowConsumerReason, CloseDrain.OwedReplies))
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
            _worker.Schedule(this);
        }
        else if (result == EnqueueResult.Overflowed)
        {
            CloseAsSlowConsumer();
        }
    }

    /// <summary>
    /// Asks the sender to close the socket. What <paramref name="drain"/> lets out of the queues
    /// goes first; then <paramref name="finalFrame"/>, if any; then the close frame.
    /// Only the first request counts. Returns whether this call was the first.
    /// </summary>
    public bool RequestClose(WebSocketCloseStatus status, string reason, CloseDrain drain, OutboundFrame? finalFrame = null, TimeSpan? timeout = null)
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
            _worker.Schedule(this);
        }

        // Leave the fan-out and free the topic slot now, before the close frame is sent: a client
        // that has seen its close can count on its slot being free (protocol.md "Close codes", 1008).
        Topic.Unsubscribe(this);
        Topic.ReleaseSlot();
        return true;
    }

    /// <summary>Empties the queue without sending: for the fan-out micro-benchmark, which runs no sender.</summary>
    internal void DrainForBenchmark() => _queue.DiscardForBenchmark();

    /// <summary>Drops the TCP connection at once; both loops end with an error they expect.</summary>
    public void Abort()
    {
        RequestClose(CloseCodes.InternalError, CloseCodes.InternalErrorReason, CloseDrain.Nothing);
        _socket.Abort();
    }

    public async Task RunAsync()
    {
        var receiving = ReceiveLoopAsync();

        // The send side ends once the close frame is sent (or the socket failed); the receive loop
        // then waits for the client's close frame, bounded by the heartbeat's close deadline.
        await _sendDone.Task.ConfigureAwait(false);
        await receiving.ConfigureAwait(false);
        if (_lingerOnEnd)
        {
            await LingerAsync().ConfigureAwait(false);
            _socket.Abort();
        }
    }

    /// <summary>
    /// After .NET's WebSocket failed the connection for a protocol violation (1002) or a text frame
    /// that is not UTF-8 (1007), it has written its close frame but left the client's input unread;
    /// ending the connection now would reset it, and the reset destroys that close frame in the
    /// client's kernel. So, like the bridge's lingering close, read and discard what the client
    /// still sends until it closes, for at most <see cref="BrokerOptions.CloseTimeout"/>
    /// (protocol.md "Close codes").
    /// </summary>
    private async Task LingerAsync()
    {
        if (_stream is null)
        {
            return;
        }

        using var linger = new CancellationTokenSource(_manager.Options.CloseTimeout, _manager.TimeProvider);
        var scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (await _stream.ReadAsync(scratch.AsMemory(), linger.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            // Gone, or still sending after the linger: the connection ends regardless.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Most payload bytes one write carries; more waits for the next write of the same pass.</summary>
    private const int MaxWriteBytes = 64 * 1024;

    /// <summary>Writes per pass before the worker moves on to its other connections (and comes back).</summary>
    private const int MaxWritesPerPass = 4;

    /// <summary>
    /// One send pass, run only by this connection's worker: takes what is pending and writes it
    /// in one write (frame once: the shared, pre-built frame bytes, see <see cref="OutboundFrame.WireBytes"/>),
    /// until the queue is empty. A write that does not complete at once is awaited off the worker,
    /// and the connection is put back on the ready list when it has; meanwhile the queue keeps it
    /// marked as scheduled, so no second pass can start. Once a close is due, the pass starts the
    /// close sequence instead.
    /// </summary>
    internal void RunSendPass(List<OutboundFrame> batch)
    {
        if (_sendDone.Task.IsCompleted)
        {
            return;
        }

        try
        {
            for (var writes = 0; writes < MaxWritesPerPass; writes++)
            {
                // A close that does not drain everything lets out the owed replies only (or nothing).
                var close = Volatile.Read(ref _close);
                if (close is { Drain: CloseDrain.Nothing } || !_queue.TakeBatch(batch, MaxWriteBytes, includeData: close is not { Drain: not CloseDrain.Everything }))
                {
                    // Drained (or told to stop): with a close requested, it is due now.
                    if (_close is not null)
                    {
                        _closing = CloseAsync();
                    }

                    return;
                }

                var write = WriteBatch(batch);
                batch.Clear();
                if (!write.IsCompletedSuccessfully)
                {
                    _writing = CompleteWriteAsync(write);
                    return;
                }
            }

            // Fair to the worker's other connections: the rest of this queue waits for its next turn.
            _worker.Schedule(this);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            OnSendFailed(ex);
        }
        catch (Exception ex)
        {
            OnSendFaulted(ex);
        }
    }

    private Task? _writing;
    private Task? _closing;

    private ValueTask WriteBatch(List<OutboundFrame> batch)
    {
        if (_stream is null)
        {
            // No coalescing transport (not installed for this request): the WebSocket frames each one.
            return new ValueTask(SendEachAsync([.. batch]));
        }

        _stream.BeginBatch();
        foreach (var frame in batch)
        {
            // The WebSocket's own writes (pongs) join the same batch, each a whole frame, never interleaved.
            _stream.Gather(frame.WireBytes);
            CountSent(frame);
        }

        return _stream.EndBatchAsync();
    }

    private async Task SendEachAsync(OutboundFrame[] frames)
    {
        foreach (var frame in frames)
        {
            await _socket.SendAsync(frame.Payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
            CountSent(frame);
        }
    }

    private void CountSent(OutboundFrame frame)
    {
        if (++_framesSent % BrokerMetrics.LatencySampleEvery == 0 && frame.IngestTimestamp != 0)
        {
            _manager.Metrics?.RecordPublishToSend(Topic, frame.IngestTimestamp);
        }
    }

    private async Task CompleteWriteAsync(ValueTask write)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            OnSendFailed(ex);
            return;
        }
        catch (Exception ex)
        {
            OnSendFaulted(ex);
            return;
        }

        // The pass goes on where it stopped, on the worker.
        _worker.Schedule(this);
    }

    /// <summary>The close sequence: the final frame if any (the shutdown frame), then the close frame.</summary>
    private async Task CloseAsync()
    {
        try
        {
            var close = Volatile.Read(ref _close)!;

            // The replies the broker owes go out with every close but the client's own (and a
            // failure); nothing can be queued after this.
            var owed = _queue.CompleteOwed();
            if (close.Drain != CloseDrain.Nothing && owed.Count > 0 && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await WriteBatch(owed).ConfigureAwait(false);
            }

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
            OnSendFailed(ex);
        }
        catch (Exception ex)
        {
            Log.LoopFaulted(_logger, Id, Topic.Name, "send", ex);
            _socket.Abort();
        }
        finally
        {
            _sendDone.TrySetResult();
        }
    }

    private void OnSendFailed(Exception ex)
    {
        Log.SendFailed(_logger, Id, Topic.Name, ex);
        if (_lingerOnEnd)
        {
            // The receive side failed the socket and lingers; RunAsync aborts after that.
            RequestClose(CloseCodes.InternalError, CloseCodes.InternalErrorReason, CloseDrain.Nothing);
        }
        else
        {
            Abort();
        }

        _sendDone.TrySetResult();
    }

    /// <summary>A bug, not the network: logged once, and the client is told with 1011 if the socket still can.</summary>
    private void OnSendFaulted(Exception ex)
    {
        Log.LoopFaulted(_logger, Id, Topic.Name, "send", ex);
        RequestClose(CloseCodes.InternalError, CloseCodes.InternalErrorReason, CloseDrain.Nothing);
        _closing = CloseAfterFaultAsync();
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
        finally
        {
            _sendDone.TrySetResult();
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
                    RequestClose(CloseCodes.Unsupported, CloseCodes.BinaryReason, CloseDrain.Everything);
                    await DiscardMessageAsync(peek).ConfigureAwait(false);
                    continue;
                }

                await ReceiveTextMessageAsync(peek).ConfigureAwait(false);
            }
        }
        catch (WebSocketException ex) when (ex.WebSocketErrorCode == WebSocketError.Faulted && _stream is not null)
        {
            // .NET's WebSocket found a protocol violation or bad UTF-8 and wrote its close frame
            // (1002 or 1007); sending stops, and RunAsync lingers so the client can read it.
            Log.ProtocolViolation(_logger, Id, Topic.Name, ex.Message);
            _lingerOnEnd = true;
            RequestClose(WebSocketCloseStatus.ProtocolError, ex.Message, CloseDrain.Nothing);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            Log.ReceiveEnded(_logger, Id, Topic.Name, ex.GetType().Name);
            Abort();
        }
        catch (Exception ex)
        {
            // A bug, not the network: logged once; the sender sends the 1011 close.
            Log.LoopFaulted(_logger, Id, Topic.Name, "receive", ex);
            RequestClose(CloseCodes.InternalError, CloseCodes.InternalErrorReason, CloseDrain.Nothing);
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
                        RequestClose(CloseCodes.MessageTooBig, CloseCodes.TooBigReason, CloseDrain.Everything);
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
                RequestClose(CloseCodes.MessageTooBig, CloseCodes.TooBigReason, CloseDrain.Everything);
                return;
            }

            if (!_rateLimiter.TryTake(_manager.TimeProvider.GetTimestamp()))
            {
                _manager.OnRateLimited(this);
                RequestClose(CloseCodes.PolicyViolation, CloseCodes.RateLimitReason, CloseDrain.Everything);
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
        // Echo the client's code, as RFC 6455 section 5.5.1 asks; the sender sends it.
        var status = _socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure;
        RequestClose(status == WebSocketCloseStatus.Empty ? WebSocketCloseStatus.NormalClosure : status, string.Empty, CloseDrain.Nothing);
    }

    private void Touch() => Volatile.Write(ref _lastActivityTimestamp, _manager.TimeProvider.GetTimestamp());

    // Kestrel's ConnectionAbortedException derives from OperationCanceledException.
    private static bool IsConnectionFailure(Exception ex) =>
        ex is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException;

    /// <summary>Per-connection settings fixed at admission.</summary>
    internal readonly record struct ConnectionSettings(int QueueCapacity, int MaxMessageBytes, int MessagesPerSecond, DeliveryPolicy Policy);

    private sealed record CloseRequest(WebSocketCloseStatus Status, string Reason, CloseDrain Drain, OutboundFrame? FinalFrame);
}
