using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;

namespace TopicBroker.Ingest;

/// <summary>
/// One bridge client. The read loop splits lines, validates them and hands good ones to the
/// pipeline without waiting for their commit (clients may pipeline); the answer loop awaits the
/// outcomes strictly in line order and writes one answer line each, flushing when it has caught up.
/// A bounded queue of unanswered lines between the two loops is the backpressure on a fast client.
/// </summary>
internal sealed partial class BridgeConnection : IDisposable
{
    /// <summary>Lines read but not yet answered; past this the read loop waits.</summary>
    private const int MaxUnansweredLines = 8192;

    /// <summary>Answers the kernel may hold for a client before a flush waits: a few thousand.</summary>
    private const int AnswerSendBufferBytes = 64 * 1024;

    private static readonly byte[] OkPrefix = """{"ok":true,"seq":"""u8.ToArray();

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly ChangeReader _parser;
    private readonly IngestPipeline _pipeline;
    private readonly TokenValidator _tokens;
    private readonly int _maxLineBytes;
    private readonly TimeSpan _idleTimeout;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    // Never disposed: shutdown's walk may call StopReading at any moment, even after this
    // connection has ended and been disposed (a Cancel then has nothing left to cancel). It holds
    // no timer, so leaving it to the GC costs nothing.
    private readonly CancellationTokenSource _stopReading = new();
    // The deadlines run on the injected clock, so tests move time with a FakeTimeProvider.
    private readonly CancellationTokenSource _readDeadline;
    private readonly CancellationTokenSource _writeDeadline;
    // Cancelled when the answer loop ends for any reason, so the read loop cannot wait forever
    // for room in the queue of unanswered lines.
    private readonly CancellationTokenSource _abort = new();
    private readonly DateTimeOffset _authDeadline;
    // When the client last showed it is there (bytes arrived, or the broker's backpressure let
    // the read loop go on): IdleTimeout counts from here, in TimeProvider timestamps.
    private long _activeTimestamp;
    private TopicGrants? _grants;
    private DateTimeOffset _tokenExpiresAt = DateTimeOffset.MaxValue;
    private readonly Channel<Task<PublishResult>> _unanswered = Channel.CreateBounded<Task<PublishResult>>(
        new BoundedChannelOptions(MaxUnansweredLines) { SingleReader = true, SingleWriter = true });

    public BridgeConnection(long id, Socket socket, ChangeReader parser, IngestPipeline pipeline, TokenValidator tokens, Limits limits, TimeProvider timeProvider, ILogger<BridgeConnection> logger)
    {
        Id = id;
        _socket = socket;
        // A small send buffer: otherwise the kernel's autotuning takes megabytes of answers (over
        // a minute of them at durable-commit rates) before a flush ever waits, and a client that
        // reads nothing is given up on only long after IdleTimeout (protocol.md "TCP bridge").
        socket.SendBufferSize = AnswerSendBufferBytes;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _parser = parser;
        _pipeline = pipeline;
        _tokens = tokens;
        _maxLineBytes = limits.MaxLineBytes;
        _idleTimeout = limits.IdleTimeout;
        _timeProvider = timeProvider;
        _readDeadline = new CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider);
        _writeDeadline = new CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider);
        _authDeadline = timeProvider.GetUtcNow() + limits.HandshakeTimeout;
        _activeTimestamp = timeProvider.GetTimestamp();
        _logger = logger;
        // Without a signing key every line is allowed; with one, the first line must be {"auth":...}.
        _grants = tokens.Enabled ? null : TopicGrants.Anonymous;
    }

    /// <summary>HandshakeTimeout bounds the time to a first, valid auth line when tokens are required.</summary>
    internal readonly record struct Limits(int MaxLineBytes, TimeSpan IdleTimeout, TimeSpan HandshakeTimeout);

    public long Id { get; }

    public long LinesRead { get; private set; }

    /// <summary>
    /// Ends the read loop after the line in hand; lines already read are still answered. Safe at
    /// any time: before the connection runs, while it runs, and after it ended and was disposed.
    /// </summary>
    public void StopReading() => _stopReading.Cancel();

    public async Task RunAsync()
    {
        Log.Opened(_logger, Id, _socket.RemoteEndPoint?.ToString());
        var answering = AnswerLoopAsync();
        try
        {
            await ReadLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            _unanswered.Writer.TryComplete();
        }

        await answering.ConfigureAwait(false);
        Log.Closed(_logger, Id, LinesRead);
    }

    public void Dispose()
    {
        _stream.Dispose();
        _readDeadline.Dispose();
        _writeDeadline.Dispose();
        _abort.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        var skippingOversizedLine = false;
        using var stopOrDeadline = CancellationTokenSource.CreateLinkedTokenSource(_stopReading.Token, _readDeadline.Token, _abort.Token);
        try
        {
            while (true)
            {
                _readDeadline.CancelAfter(TimeToDeadline());
                var result = await reader.ReadAsync(stopOrDeadline.Token).ConfigureAwait(false);
                // The deadline spans only the wait for bytes: lines arrived, so the client is not
                // idle while this loop then waits for room among the unanswered lines (that wait
                // is the broker's backpressure, bounded by the answer loop's own deadline).
                _readDeadline.CancelAfter(Timeout.InfiniteTimeSpan);
                _activeTimestamp = _timeProvider.GetTimestamp();
                var buffer = result.Buffer;
                while (TryReadLine(ref buffer, out var line))
                {
                    if (skippingOversizedLine)
                    {
                        // The tail of a line already answered with too_large.
                        skippingOversizedLine = false;
                        continue;
                    }

                    if (!await HandleLineAsync(line).ConfigureAwait(false))
                    {
                        return;
                    }
                }

                if (!skippingOversizedLine && buffer.Length > _maxLineBytes)
                {
                    // No newline within the limit: answer now, then drop bytes until the next newline.
                    skippingOversizedLine = true;
                    await EnqueueAsync(Task.FromResult(TooLarge())).ConfigureAwait(false);
                    if (_grants is null)
                    {
                        return;
                    }
                }

                if (skippingOversizedLine)
                {
                    buffer = buffer.Slice(buffer.End);
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    // A partial last line (the client vanished mid-line) was never acked and is dropped.
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // A cancelled socket read can surface as either; which token fired says why.
            if (_stopReading.IsCancellationRequested)
            {
                Log.StoppedReading(_logger, Id);
            }
            else if (_abort.IsCancellationRequested)
            {
                Log.ReadEnded(_logger, Id, "answers could not be delivered");
            }
            else if (_readDeadline.IsCancellationRequested)
            {
                Log.Expired(_logger, Id, _grants is null ? "no valid auth line in time" : _timeProvider.GetUtcNow() >= _tokenExpiresAt ? "token expired" : "idle timeout");
            }
            else
            {
                Log.ReadEnded(_logger, Id, ex.Message);
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// How long the next read may wait: until the auth deadline while unauthenticated (blank lines
    /// do not extend it), else IdleTimeout after the client was last active (a half-open
    /// connection) or the token's expiry.
    /// </summary>
    private TimeSpan TimeToDeadline()
    {
        var now = _timeProvider.GetUtcNow();
        var idle = _idleTimeout - _timeProvider.GetElapsedTime(_activeTimestamp);
        var wait = _grants is null ? _authDeadline - now : _tokenExpiresAt - now < idle ? _tokenExpiresAt - now : idle;
        return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
    }

    /// <summary>Answers one line (in order, through the queue); false when the connection must close after it.</summary>
    private async ValueTask<bool> HandleLineAsync(ReadOnlySequence<byte> line)
    {
        if (line.Length > _maxLineBytes)
        {
            await EnqueueAsync(Task.FromResult(TooLarge())).ConfigureAwait(false);
            return _grants is not null;
        }

        var bytes = line.IsSingleSegment ? line.First : line.ToArray();
        if (bytes.Length > 0 && bytes.Span[^1] == (byte)'\r')
        {
            bytes = bytes[..^1];
        }

        if (bytes.Span.Trim(" \t"u8).IsEmpty)
        {
            // Blank lines are keep-alives, not requests: not answered (protocol.md "TCP bridge").
            // They re-arm the idle deadline (bytes arrived), never the auth deadline.
            Log.KeepAlive(_logger, Id);
            return true;
        }

        LinesRead++;
        if (TokenReader.TryReadAuthLine(bytes.Span, out var token))
        {
            return await AuthenticateAsync(token).ConfigureAwait(false);
        }

        if (_grants is null)
        {
            await EnqueueAsync(Task.FromResult(PublishResult.Rejected(ErrorCodes.Unauthorized, "The first line must be {\"auth\":\"<token>\"}."))).ConfigureAwait(false);
            return false;
        }

        Task<PublishResult> outcome;
        if (!_parser.TryReadLine(bytes.Span, out var change, out var error))
        {
            outcome = Task.FromResult(PublishResult.Rejected(error));
        }
        else if (!_grants.MayPublish(change.Topic.Name))
        {
            outcome = Task.FromResult(PublishResult.Rejected(ErrorCodes.Forbidden, $"The token does not allow publishing to '{change.Topic.Name}'."));
        }
        else
        {
            outcome = _pipeline.PublishAsync(change, CancellationToken.None);
        }

        await EnqueueAsync(outcome).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// <c>{"auth":"&lt;jwt&gt;"}</c>: the first line, or a refresh later. A refused first token ends the
    /// connection; a refused refresh keeps the token in force (protocol.md "Security").
    /// </summary>
    private async ValueTask<bool> AuthenticateAsync(string? token)
    {
        var check = await _tokens.ValidateAsync(token).ConfigureAwait(false);
        if (!check.Ok)
        {
            await EnqueueAsync(Task.FromResult(PublishResult.Rejected(ErrorCodes.Unauthorized, check.Error!))).ConfigureAwait(false);
            return _grants is not null;
        }

        _grants = check.Grants;
        _tokenExpiresAt = check.ExpiresAt;
        await EnqueueAsync(Task.FromResult(PublishResult.Authenticated)).ConfigureAwait(false);
        return true;
    }

    private ValueTask EnqueueAsync(Task<PublishResult> outcome)
    {
        // Not cancelled by shutdown: a line the loop has taken is always answered. Only the end of
        // the answer loop (the client no longer takes answers) cancels the wait.
        var write = _unanswered.Writer.WriteAsync(outcome, _abort.Token);
        return write.IsCompleted ? write : AfterBackpressureAsync(write);
    }

    private async ValueTask AfterBackpressureAsync(ValueTask write)
    {
        await write.ConfigureAwait(false);
        // The wait was the broker's backpressure, not the client's silence.
        _activeTimestamp = _timeProvider.GetTimestamp();
    }

    private PublishResult TooLarge() =>
        PublishResult.Rejected(ErrorCodes.TooLarge, $"The line is over Broker:MaxMessageBytes ({_maxLineBytes} bytes); it was skipped.");

    private async Task AnswerLoopAsync()
    {
        var writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
        var reader = _unanswered.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryPeek(out var next))
                {
                    if (!next.IsCompleted)
                    {
                        // Caught up with what is committed: put the answers on the wire, then wait.
                        await FlushWithDeadlineAsync(writer).ConfigureAwait(false);
                    }

                    var result = await next.ConfigureAwait(false);
                    reader.TryRead(out _);
                    WriteAnswer(writer, result);
                }

                await FlushWithDeadlineAsync(writer).ConfigureAwait(false);
            }
        }
        catch (IOException ex)
        {
            // The client is gone; what it did not read was committed all the same.
            Log.WriteEnded(_logger, Id, ex.Message);
            DrainUnanswered();
        }
        catch (OperationCanceledException) when (_writeDeadline.IsCancellationRequested)
        {
            Log.WriteEnded(_logger, Id, "the client took no answers for IdleTimeout");
            DrainUnanswered();
        }
        catch (ObjectDisposedException)
        {
            DrainUnanswered();
        }
        finally
        {
            _abort.Cancel();
            try
            {
                // After a failure, complete with an exception: nothing left in the writer is flushed
                // into a socket that is gone or not being read.
                await writer.CompleteAsync(_writeDeadline.IsCancellationRequested ? new OperationCanceledException() : null).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
            {
            }

            await LingeringCloseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends the connection without destroying answers: FIN after the last answer, then read and
    /// discard what the client is still sending, briefly. Closing with unread input would send an
    /// RST, and a client's kernel drops received-but-unread answers on an RST.
    /// </summary>
    private async Task LingeringCloseAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
            using var linger = new CancellationTokenSource(LingerTimeout, _timeProvider);
            var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                while (await _socket.ReceiveAsync(scratch, SocketFlags.None, linger.Token).ConfigureAwait(false) > 0)
                {
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Gone, or still talking after the linger: close regardless.
        }
    }

    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(2);

    /// <summary>A client that takes no answers for IdleTimeout is given up on, like a silent one.</summary>
    private async ValueTask FlushWithDeadlineAsync(PipeWriter writer)
    {
        _writeDeadline.CancelAfter(_idleTimeout);
        await writer.FlushAsync(_writeDeadline.Token).ConfigureAwait(false);
        _writeDeadline.TryReset();
    }

    private void DrainUnanswered()
    {
        _abort.Cancel();
        while (_unanswered.Reader.TryRead(out _))
        {
        }
    }

    private static void WriteAnswer(PipeWriter writer, PublishResult result)
    {
        if (result.Ok && result.Seq > 0)
        {
            // The hot answer, written without a serializer: {"ok":true,"seq":N}\n
            var span = writer.GetSpan(OkPrefix.Length + 22);
            OkPrefix.CopyTo(span);
            Utf8Formatter.TryFormat(result.Seq, span[OkPrefix.Length..], out var written);
            span[OkPrefix.Length + written] = (byte)'}';
            span[OkPrefix.Length + written + 1] = (byte)'\n';
            writer.Advance(OkPrefix.Length + written + 2);
            return;
        }

        var answer = FrameSerializer.Answer(result.ToAnswer());
        writer.Write(answer);
        writer.Write("\n"u8);
    }

    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            line = default;
            return false;
        }

        line = buffer.Slice(0, newline.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
        return true;
    }
}
