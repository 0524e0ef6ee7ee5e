using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Threading.Channels;
using TopicBroker.Diagnostics;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Security;
using TopicBroker.Topics;

namespace TopicBroker.Connections;

/// <summary>
/// One subscribed WebSocket. It runs exactly two loops, awaited together: the receive loop reads
/// client messages, the send loop drains the bounded queues. Only the send loop touches the socket
/// for writing; everything else enqueues (<see cref="TryEnqueue"/>, <see cref="TryEnqueueReply"/>)
/// or asks for a close (<see cref="RequestClose"/>), which the send loop carries out. Replies the
/// broker owes the client have their own queue, apart from data, so that a data overflow or a
/// close never drops them (protocol.md "Close codes", "What goes out before a close").
/// </summary>
internal sealed partial class WebSocketConnection
{
    private readonly WebSocket _socket;
    private readonly CoalescingStream? _stream;
    private readonly Channel<OutboundFrame> _queue;
    private readonly Channel<OutboundFrame> _owed;
    private readonly ConnectionManager _manager;
    private readonly ClientMessageHandler _messageHandler;
    private readonly ILogger _logger;
    private readonly int _maxMessageBytes;
    private readonly DeliveryPolicy _policy;
    private readonly Lock _conflationGate = new();
    private Dictionary<string, OutboundFrame>? _conflated;
    private bool _conflating;
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
        _policy = settings.Policy;
        _rateLimiter = new InboundRateLimiter(settings.MessagesPerSecond, manager.TimeProvider.TimestampFrequency, nowTimestamp);
        _tokenExpiresTimestamp = tokenExpiresTimestamp;
        _logger = logger;
        _lastActivityTimestamp = nowTimestamp;
        // FullMode.Wait makes TryWrite return false on a full queue: that false is the
        // slow-consumer signal, and nobody ever waits on it.
        _queue = Channel.CreateBounded<OutboundFrame>(new BoundedChannelOptions(settings.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
        // Replies answer client messages, which the rate limiter bounds to a burst of twice the
        // rate; room for twice that again lets a busy send loop fall behind a full-rate client for
        // a moment. More unsent means the client sends but does not read.
        _owed = Channel.CreateBounded<OutboundFrame>(new BoundedChannelOptions(Math.Max(64, 4 * settings.MessagesPerSecond))
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
    }

    public long Id { get; }

    public TopicState Topic { get; }

    public IPAddress? RemoteAddress { get; }

    /// <summary>This connection's slot in its topic's subscriber array; owned by <see cref="TopicState"/>.</summary>
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

    /// <summary>Queues a frame for the send loop. Never waits; false means the queue is full or closed.</summary>
    public bool TryEnqueue(OutboundFrame frame) => _queue.Writer.TryWrite(frame);

    /// <summary>
    /// Queues a reply the broker owes the client (a pong, an error or auth answer) apart from data,
    /// so it goes out ahead of queued data and even when the connection is being closed. Never
    /// waits; false means the client has left more replies unread than its rate limit allows.
    /// </summary>
    public bool TryEnqueueReply(OutboundFrame frame)
    {
        if (!_owed.Writer.TryWrite(frame))
        {
            return false;
        }

        // The send loop parks on the data queue only when that is empty; a frame there wakes it.
        // If the queue holds data the loop is not parked, and it looks at the replies every pass.
        if (_queue.Reader.Count == 0)
        {
            _queue.Writer.TryWrite(WakeUp);
        }

        return true;
    }

    /// <summary>
    /// Fan-out's entry point: queue the frame, or apply the topic's delivery policy when the queue
    /// is full. Never waits.
    /// </summary>
    public void Deliver(OutboundFrame frame)
    {
        if (!Volatile.Read(ref _conflating) && _queue.Writer.TryWrite(frame))
        {
            return;
        }

        OnQueueFull(frame);
    }

    /// <summary>The queue had no room for <paramref name="frame"/> (null: a reply of the connection's own).</summary>
    public void OnQueueFull(OutboundFrame? frame = null)
    {
        if (IsClosing)
        {
            return;
        }

        if (_policy == DeliveryPolicy.Latest)
        {
            if (frame is null)
            {
                // More replies of its own (pong, error, auth) unread than its rate limit allows, on
                // a 'latest' topic: dropped and counted, because such a client is never closed for
                // being slow.
                Topic.Counters.AddFramesDropped(1);
            }
            else
            {
                Conflate(frame);
            }

            return;
        }

        var dropped = 1 + _queue.Reader.Count;
        // Its full queue cannot be sent; the replies it is owed still are (protocol.md "Close codes").
        if (RequestClose(CloseCodes.TryAgainLater, CloseCodes.SlowConsumerReason, CloseDrain.OwedReplies))
        {
            Topic.Counters.AddSlowConsumerClose();
            Topic.Counters.AddFramesDropped(dropped);
            _manager.OnSlowConsumer(this);
        }
    }

    /// <summary>
    /// The 'latest' policy (protocol.md "Frames"): while this subscriber is behind, every update
    /// goes to a map holding the newest frame per id instead of the queue, so it catches up on
    /// current values, never on a stale backlog. Frames without an id (pings, rebroadcast
    /// snapshots) are skipped meanwhile: newer state is on its way anyway.
    /// </summary>
    private void Conflate(OutboundFrame frame)
    {
        if (frame.Id is null)
        {
            Topic.Counters.AddFramesDropped(1);
            return;
        }

        lock (_conflationGate)
        {
            _conflated ??= new Dictionary<string, OutboundFrame>(StringComparer.Ordinal);
            if (_conflated.Remove(frame.Id))
            {
                Topic.Counters.AddFramesConflated(1);
            }

            _conflated[frame.Id] = frame;
            Volatile.Write(ref _conflating, true);

            // The send loop may have just drained everything and parked in WaitToReadAsync (it ends
            // conflation under this lock, so it cannot be mid-check): nothing in the map wakes it,
            // a frame in the queue does.
            if (_queue.Reader.Count == 0)
            {
                _queue.Writer.TryWrite(WakeUp);
            }
        }
    }

    /// <summary>Queued only to wake a parked send loop; never sent.</summary>
    private static readonly OutboundFrame WakeUp = new([]);

    /// <summary>
    /// Takes what conflation holds, oldest change first; null when it holds nothing, and then, if
    /// the queue is empty too, the subscriber has caught up and conflation ends. Under the same
    /// lock as <see cref="Conflate"/>, so no frame can slip in between the check and the switch.
    /// </summary>
    private List<OutboundFrame>? TakeConflated()
    {
        lock (_conflationGate)
        {
            if (_conflated is { Count: > 0 })
            {
                var frames = _conflated.Values.OrderBy(f => f.Seq).ToList();
                _conflated.Clear();
                return frames;
            }

            if (_queue.Reader.Count == 0)
            {
                Volatile.Write(ref _conflating, false);
            }

            return null;
        }
    }

    /// <summary>
    /// Asks the send loop to close the socket. What <paramref name="drain"/> lets out of the queues
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
        _queue.Writer.TryComplete();

        // Leave the fan-out and free the topic slot now, before the close frame is sent: a client
        // that has seen its close can count on its slot being free (protocol.md "Close codes", 1008).
        Topic.Unsubscribe(this);
        Topic.ReleaseSlot();
        return true;
    }

    /// <summary>Empties the queue without sending: for the fan-out micro-benchmark, which runs no send loop.</summary>
    internal void DrainForBenchmark()
    {
        while (_queue.Reader.TryRead(out _))
        {
        }
    }

    /// <summary>Drops the TCP connection at once; both loops end with an error they expect.</summary>
    public void Abort()
    {
        RequestClose(CloseCodes.InternalError, CloseCodes.InternalErrorReason, CloseDrain.Nothing);
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

    private async Task SendLoopAsync()
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                // Everything drained in this pass goes to the socket in one write (see CoalescingStream).
                _stream?.BeginBatch();
                while (true)
                {
                    // Owed replies first: they answer the client, and no data may hold them up.
                    await SendOwedRepliesAsync().ConfigureAwait(false);
                    while (reader.TryRead(out var frame))
                    {
                        if (_close is { Drain: not CloseDrain.Everything })
                        {
                            goto Close;
                        }

                        if (!ReferenceEquals(frame, WakeUp))
                        {
                            await SendFrameAsync(frame).ConfigureAwait(false);
                        }
                    }

                    if (!Volatile.Read(ref _conflating))
                    {
                        break;
                    }

                    // Behind on a 'latest' topic: after the queue, the newest value per id.
                    var conflated = TakeConflated();
                    if (conflated is null)
                    {
                        if (reader.Count == 0)
                        {
                            break;
                        }

                        continue;
                    }

                    foreach (var frame in conflated)
                    {
                        if (_close is { Drain: not CloseDrain.Everything })
                        {
                            goto Close;
                        }

                        await SendFrameAsync(frame).ConfigureAwait(false);
                    }
                }

                // A reply queued while the data went out must not wait for the next wake-up.
                await SendOwedRepliesAsync().ConfigureAwait(false);
                if (_stream is not null)
                {
                    await _stream.EndBatchAsync().ConfigureAwait(false);
                }
            }

        Close:
            var close = Volatile.Read(ref _close)!;
            // The replies the broker owes go out with every close but the client's own (and a
            // failure); nothing can be queued after this.
            _owed.Writer.TryComplete();
            if (close.Drain != CloseDrain.Nothing)
            {
                await SendOwedRepliesAsync().ConfigureAwait(false);
            }

            if (_stream is not null)
            {
                // What was gathered before the close request still goes out, ahead of the close.
                await _stream.EndBatchAsync().ConfigureAwait(false);
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
        }
    }

    private async ValueTask SendOwedRepliesAsync()
    {
        while (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived && _owed.Reader.TryRead(out var reply))
        {
            await SendFrameAsync(reply).ConfigureAwait(false);
        }
    }

    private async ValueTask SendFrameAsync(OutboundFrame frame)
    {
        await _socket.SendAsync(frame.Payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
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
            // (1002 or 1007); the send loop stops, and RunAsync lingers so the client can read it.
            Log.ProtocolViolation(_logger, Id, Topic.Name, ex.Message);
            _lingerOnEnd = true;
            RequestClose(WebSocketCloseStatus.ProtocolError, ex.Message, CloseDrain.Nothing);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            Log.ReceiveEnded(_logger, Id, Topic.Name, ex.GetType().Name);
            Abort();
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
                // The replies owed for the messages within the limit still go out, then the close.
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
        // Echo the client's code, as RFC 6455 section 5.5.1 asks; the send loop sends it.
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
