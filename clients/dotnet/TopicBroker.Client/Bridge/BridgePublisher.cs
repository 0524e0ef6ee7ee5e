using System.Buffers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace TopicBroker.Client.Bridge;

/// <summary>
/// A publisher over the broker's TCP bridge (protocol.md "TCP bridge") that loses nothing across
/// broker restarts: every line is kept until the broker answers it, lines are pipelined, and
/// lines still unanswered when a connection drops are sent again, in their original order, on
/// the next connection.
/// </summary>
/// <remarks>
/// Call <see cref="RunAsync"/> once and keep awaiting it: it owns the connection and reconnects
/// with capped exponential backoff and full jitter. Publishing works whether or not a
/// connection is up; lines wait in the queue until one is.
/// </remarks>
public sealed partial class BridgePublisher
{
    // One write carries at most this much, so a long backlog after a reconnect goes out in
    // reasonably sized chunks while answers already flow back.
    private const int MaxWriteBytes = 64 * 1024;

    private static readonly byte[] s_keepAlive = "\n"u8.ToArray();

    private readonly BridgePublisherOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // Every unanswered line, oldest first. The lines before _nextToSend have been written on the
    // current connection; the broker answers in order, so each answer belongs to _lines.First.
    // Both are guarded by _lock, shared by the publishers, the write loop and the read loop.
    private readonly Lock _lock = new();
    private readonly LinkedList<PendingLine> _lines = new();
    private LinkedListNode<PendingLine>? _nextToSend;
    private TaskCompletionSource _allAnswered = CreateCompletedSource();

    // One permit per line that may still be queued: the backpressure of PublishAsync.
    private readonly SemaphoreSlim _slots;

    // Wakes the write loop; capacity 1 and DropWrite make it a signal that coalesces.
    private readonly Channel<bool> _writerWakeUp =
        Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    private long _sent;
    private long _resent;
    private long _acked;
    private long _rejected;
    private long _reconnects;
    private long _lastSeq;
    private int _running;

    /// <summary>Creates a publisher; nothing connects until <see cref="RunAsync"/>.</summary>
    public BridgePublisher(BridgePublisherOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = options.TimeProvider;
        _logger = options.Logger;
        _slots = new SemaphoreSlim(options.MaxUnacked, options.MaxUnacked);
    }

    /// <summary>Lines written to a socket, including lines written again after a reconnect.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Lines written again because their connection dropped before they were answered.</summary>
    public long Resent => Interlocked.Read(ref _resent);

    /// <summary>Lines the broker committed (<c>{"ok":true}</c>).</summary>
    public long Acked => Interlocked.Read(ref _acked);

    /// <summary>Lines the broker refused for good (<c>{"ok":false}</c> other than <c>unavailable</c>/<c>shutting_down</c>); they are dropped.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Connections made after the first one.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>The seq of the most recent committed line, or 0.</summary>
    public long LastSeq => Interlocked.Read(ref _lastSeq);

    /// <summary>Lines queued or sent and not yet answered.</summary>
    public int Unacked
    {
        get
        {
            lock (_lock)
            {
                return _lines.Count;
            }
        }
    }

    /// <summary>Queues an upsert of <paramref name="id"/> in <paramref name="topic"/>; waits while the queue is full.</summary>
    /// <remarks>Completes once the line is queued, not when the broker has committed it; see <see cref="WaitAllAckedAsync"/>.</remarks>
    public Task PublishAsync(string topic, string id, JsonObject data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return EnqueueAsync(FormatLine(topic, id, data), cancellationToken);
    }

    /// <summary>Queues a delete of <paramref name="id"/> in <paramref name="topic"/>; waits while the queue is full.</summary>
    public Task PublishDeleteAsync(string topic, string id, CancellationToken cancellationToken = default) =>
        EnqueueAsync(FormatLine(topic, id, data: null), cancellationToken);

    /// <summary>
    /// Queues one line as is (a JSON object without the newline), for lines built elsewhere. The
    /// broker validates it; a line it refuses is reported and dropped like any other.
    /// </summary>
    public Task PublishLineAsync(string jsonLine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonLine);
        if (jsonLine.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new ArgumentException("A bridge line must not contain a line break.", nameof(jsonLine));
        }

        return EnqueueAsync(Encoding.UTF8.GetBytes(jsonLine + "\n"), cancellationToken);
    }

    /// <summary>
    /// Completes when every line published so far has been answered: committed, or rejected for
    /// good and dropped. Lines published while waiting are waited for too.
    /// </summary>
    public Task WaitAllAckedAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return _allAnswered.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Connects, sends and reconnects until <paramref name="cancellationToken"/> is cancelled,
    /// then returns. Lines still unanswered at that point stay queued; await
    /// <see cref="WaitAllAckedAsync"/> first to stop without losing any.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("RunAsync is already running; a publisher owns one connection at a time.");
        }

        try
        {
            var failedAttempts = 0;
            var connected = false;
            while (!cancellationToken.IsCancellationRequested)
            {
                ConnectionOutcome outcome;
                try
                {
                    outcome = await RunConnectionAsync(isReconnect: connected, cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // Stopped while connecting or mid-connection: a requested end, not a failure.
                    return;
                }

                connected |= outcome.Connected;
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                // A connection that did real work resets the backoff; one that the broker accepts and
                // drops at once (it is stopping, or refuses every line) must not become a tight loop.
                failedAttempts = outcome.Healthy ? 0 : failedAttempts + 1;
                var delay = Backoff.Next(_options.InitialBackoff, _options.MaxBackoff, failedAttempts);
                Log.Reconnecting(_logger, outcome.Reason, Unacked, (long)delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, _time, cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private async Task EnqueueAsync(byte[] line, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        lock (_lock)
        {
            if (_lines.Count == 0)
            {
                _allAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            var node = _lines.AddLast(new PendingLine(line));
            _nextToSend ??= node;
        }

        _writerWakeUp.Writer.TryWrite(true);
    }

    private async Task<ConnectionOutcome> RunConnectionAsync(bool isReconnect, CancellationToken cancellationToken)
    {
        using var tcp = new TcpClient { NoDelay = true };
        try
        {
            using var connectTimeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
            using var connectCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connectTimeout.Token);
            await tcp.ConnectAsync(_options.Host, _options.Port, connectCancellation.Token);
        }
        catch (SocketException ex)
        {
            return new ConnectionOutcome(false, false, $"cannot connect to {_options.Host}:{_options.Port} ({ex.SocketErrorCode})");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ConnectionOutcome(false, false, $"connecting to {_options.Host}:{_options.Port} timed out");
        }

        var stream = tcp.GetStream();
        var progress = new ConnectionProgress();
        if (_options.AccessToken is { } accessToken)
        {
            // protocol.md "Tokens": the first line carries the token; its answer comes before any other.
            try
            {
                await stream.WriteAsync(FormatAuthLine(await accessToken(cancellationToken)), cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                return new ConnectionOutcome(true, false, $"write failed ({ex.Message})");
            }

            progress.AuthAnswerPending = true;
        }

        var resending = RewindForNewConnection();
        if (isReconnect)
        {
            Interlocked.Increment(ref _reconnects);
        }

        Log.Connected(_logger, _options.Host, _options.Port, resending);

        var startedAt = _time.GetTimestamp();
        using var connectionStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // Three loops per connection, awaited together; the first to end ends the connection.
        // Only the write loop writes to the socket and only the read loop reads from it.
        var writeLoop = WriteLoopAsync(stream, connectionStop.Token);
        var readLoop = ReadLoopAsync(stream, progress, connectionStop.Token);
        var watchdog = WatchAnswersAsync(progress, connectionStop.Token);
        var first = await Task.WhenAny(writeLoop, readLoop, watchdog);

        await connectionStop.CancelAsync();
        tcp.Dispose(); // unblocks a write stuck on a full send buffer

        // Wait for all three before returning, so no loop outlives its connection (a loop that
        // failed unexpectedly rethrows here, after the others have stopped).
        await Task.WhenAll(writeLoop, readLoop, watchdog);
        var reason = await first;

        // Healthy: the broker answered, or the connection simply stayed up (an idle bridge gets no answers).
        var healthy = progress.AnsweredAny || (!progress.AnswerTimedOut && _time.GetElapsedTime(startedAt) >= _options.MaxBackoff);
        return new ConnectionOutcome(true, healthy, reason);
    }

    /// <summary>Makes every unanswered line due again, oldest first; returns how many had been sent before.</summary>
    private int RewindForNewConnection()
    {
        lock (_lock)
        {
            var resending = 0;
            for (var node = _lines.First; node is not null && node != _nextToSend; node = node.Next)
            {
                resending++;
            }

            _nextToSend = _lines.First;
            return resending;
        }
    }

    private async Task<string> WriteLoopAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(MaxWriteBytes);
        try
        {
            while (true)
            {
                if (!TakeLinesToSend(buffer))
                {
                    // Nothing due: wait for a publisher (a signal raised since the last take is still
                    // pending), or send a blank line when the connection has been quiet for long.
                    if (!await WaitForLinesAsync(cancellationToken))
                    {
                        await stream.WriteAsync(s_keepAlive, cancellationToken);
                    }

                    continue;
                }

                // Pipelining: the lines go out without waiting for answers to earlier ones.
                await stream.WriteAsync(buffer.WrittenMemory, cancellationToken);
                buffer.ResetWrittenCount();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return "stopped";
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            return $"write failed ({ex.Message})";
        }
    }

    /// <summary>True when a publisher signalled; false when <see cref="BridgePublisherOptions.KeepAliveInterval"/> passed first.</summary>
    private async Task<bool> WaitForLinesAsync(CancellationToken cancellationToken)
    {
        using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        quiet.CancelAfter(_options.KeepAliveInterval);
        try
        {
            await _writerWakeUp.Reader.WaitToReadAsync(quiet.Token);
            _writerWakeUp.Reader.TryRead(out _);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Copies due lines into <paramref name="buffer"/> and marks them sent; false when none are due.</summary>
    private bool TakeLinesToSend(ArrayBufferWriter<byte> buffer)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            while (_nextToSend is { } node && (buffer.WrittenCount == 0 || buffer.WrittenCount + node.Value.Utf8Line.Length <= MaxWriteBytes))
            {
                // The line counts as sent before the bytes leave: its answer may arrive on the read
                // loop before this loop runs again, and must then find it among the sent lines.
                var line = node.Value;
                if (line.TimesSent++ > 0)
                {
                    Interlocked.Increment(ref _resent);
                }

                line.SentAt = now;
                buffer.Write(line.Utf8Line);
                Interlocked.Increment(ref _sent);
                _nextToSend = node.Next;
            }

            return buffer.WrittenCount > 0;
        }
    }

    private async Task<string> ReadLoopAsync(NetworkStream stream, ConnectionProgress progress, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, bufferSize: 4096, leaveOpen: true);
        try
        {
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (!BridgeAnswer.TryParse(line, out var answer))
                {
                    return "the broker sent an answer that is not one (protocol mismatch?)";
                }

                if (progress.AuthAnswerPending)
                {
                    progress.AuthAnswerPending = false;
                    if (!answer.Ok)
                    {
                        // The broker closes the connection; the token function is asked again next time.
                        return $"the broker refused the token ({answer.Error}: {answer.Message})";
                    }

                    continue;
                }

                var problem = ApplyAnswer(answer);
                if (problem is not null)
                {
                    return problem;
                }

                progress.AnsweredAny = true;
            }

            return "the broker closed the connection";
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return "stopped";
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            return $"read failed ({ex.Message})";
        }
    }

    /// <summary>Matches an answer to the oldest sent line; returns why the connection must end, or null.</summary>
    private string? ApplyAnswer(BridgeAnswer answer)
    {
        PendingLine line;
        lock (_lock)
        {
            var head = _lines.First;
            if (head is null || head == _nextToSend)
            {
                return "the broker answered a line that was not sent";
            }

            if (answer.IsRetryable)
            {
                // Keep the line where it is and start over: it and every line after it are sent again,
                // in order, on the next connection, after a backoff. Retrying it alone, later, would
                // reorder it behind newer changes of the same entity.
                return $"the broker answered '{answer.Error}'";
            }

            line = head.Value;
            _lines.RemoveFirst();
            if (answer.Ok)
            {
                Interlocked.Increment(ref _acked);
                Interlocked.Exchange(ref _lastSeq, answer.Seq ?? 0);
            }
            else
            {
                Interlocked.Increment(ref _rejected);
            }

            if (_lines.Count == 0)
            {
                _allAnswered.TrySetResult();
            }
        }

        _slots.Release();
        if (!answer.Ok)
        {
            Log.LineRejected(_logger, answer.Error!, answer.Message, Describe(line.Utf8Line));
        }

        return null;
    }

    private async Task<string> WatchAnswersAsync(ConnectionProgress progress, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.AnswerTimeout / 4, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                long? oldestSentAt;
                lock (_lock)
                {
                    oldestSentAt = _lines.First is { } head && head != _nextToSend ? head.Value.SentAt : null;
                }

                if (oldestSentAt is { } sentAt && _time.GetElapsedTime(sentAt) > _options.AnswerTimeout)
                {
                    progress.AnswerTimedOut = true;
                    return $"no answer for {_options.AnswerTimeout.TotalSeconds:F0} s, presuming the connection dead";
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        return "stopped";
    }

    private static byte[] FormatLine(string topic, string id, JsonObject? data)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentException.ThrowIfNullOrEmpty(id);

        // Utf8JsonWriter never writes a raw line break (strings escape it), so the output is one line.
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("topic", topic);
            writer.WriteString("id", id);
            if (data is null)
            {
                writer.WriteString("op", "delete");
            }
            else
            {
                writer.WritePropertyName("data");
                data.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    // Names the entity of a line without echoing its data into the log.
    private static string Describe(byte[] utf8Line)
    {
        try
        {
            using var document = JsonDocument.Parse(utf8Line);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("topic", out var topic)
                && root.TryGetProperty("id", out var id))
            {
                return $"topic {topic.GetRawText()}, id {id.GetRawText()}";
            }
        }
        catch (JsonException)
        {
        }

        return $"a line of {utf8Line.Length} bytes";
    }

    private static byte[] FormatAuthLine(string token)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        var buffer = new ArrayBufferWriter<byte>(token.Length + 16);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("auth", token);
            writer.WriteEndObject();
        }

        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static TaskCompletionSource CreateCompletedSource()
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.SetResult();
        return source;
    }

    private sealed class PendingLine(byte[] utf8Line)
    {
        public byte[] Utf8Line { get; } = utf8Line;

        public int TimesSent { get; set; }

        public long SentAt { get; set; }
    }

    // Written by the connection's loops, read after they have ended.
    private sealed class ConnectionProgress
    {
        public bool AnsweredAny { get; set; }

        public bool AnswerTimedOut { get; set; }

        /// <summary>The auth line went out first on this connection and its answer has not come yet.</summary>
        public bool AuthAnswerPending { get; set; }
    }

    private readonly record struct ConnectionOutcome(bool Connected, bool Healthy, string Reason);
}
