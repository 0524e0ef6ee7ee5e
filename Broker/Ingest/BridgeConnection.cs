using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using TopicBroker.Protocol;

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

    private static readonly byte[] OkPrefix = """{"ok":true,"seq":"""u8.ToArray();

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly ChangeParser _parser;
    private readonly IngestPipeline _pipeline;
    private readonly int _maxLineBytes;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopReading = new();
    private readonly Channel<Task<PublishResult>> _unanswered = Channel.CreateBounded<Task<PublishResult>>(
        new BoundedChannelOptions(MaxUnansweredLines) { SingleReader = true, SingleWriter = true });

    public BridgeConnection(long id, Socket socket, ChangeParser parser, IngestPipeline pipeline, int maxLineBytes, ILogger<BridgeConnection> logger)
    {
        Id = id;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _parser = parser;
        _pipeline = pipeline;
        _maxLineBytes = maxLineBytes;
        _logger = logger;
    }

    public long Id { get; }

    public long LinesRead { get; private set; }

    /// <summary>Ends the read loop after the line in hand; lines already read are still answered.</summary>
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
        _stopReading.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        var skippingOversizedLine = false;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_stopReading.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (TryReadLine(ref buffer, out var line))
                {
                    if (skippingOversizedLine)
                    {
                        // The tail of a line already answered with too_large.
                        skippingOversizedLine = false;
                        continue;
                    }

                    await HandleLineAsync(line).ConfigureAwait(false);
                }

                if (!skippingOversizedLine && buffer.Length > _maxLineBytes)
                {
                    // No newline within the limit: answer now, then drop bytes until the next newline.
                    skippingOversizedLine = true;
                    await EnqueueAsync(Task.FromResult(TooLarge())).ConfigureAwait(false);
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
        catch (OperationCanceledException) when (_stopReading.IsCancellationRequested)
        {
        }
        catch (IOException ex)
        {
            Log.ReadEnded(_logger, Id, ex.Message);
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask HandleLineAsync(ReadOnlySequence<byte> line)
    {
        if (line.Length > _maxLineBytes)
        {
            await EnqueueAsync(Task.FromResult(TooLarge())).ConfigureAwait(false);
            return;
        }

        var span = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        if (span.Length > 0 && span[^1] == (byte)'\r')
        {
            span = span[..^1];
        }

        if (span.Trim(" \t"u8).IsEmpty)
        {
            // Blank lines are keep-alives, not requests: not answered (protocol.md section 6).
            return;
        }

        LinesRead++;
        var outcome = _parser.TryParseLine(span, out var change, out var error)
            ? _pipeline.PublishAsync(change, CancellationToken.None)
            : Task.FromResult(error);
        await EnqueueAsync(outcome).ConfigureAwait(false);
    }

    private ValueTask EnqueueAsync(Task<PublishResult> outcome) =>
        // No cancellation: a line the loop has taken is always answered, even during shutdown.
        _unanswered.Writer.WriteAsync(outcome, CancellationToken.None);

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
                        await writer.FlushAsync().ConfigureAwait(false);
                    }

                    var result = await next.ConfigureAwait(false);
                    reader.TryRead(out _);
                    WriteAnswer(writer, result);
                }

                await writer.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (IOException ex)
        {
            // The client is gone; what it did not read was committed all the same.
            Log.WriteEnded(_logger, Id, ex.Message);
            DrainUnanswered();
        }
        catch (ObjectDisposedException)
        {
            DrainUnanswered();
        }
        finally
        {
            await writer.CompleteAsync().ConfigureAwait(false);
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already gone.
            }
        }
    }

    private void DrainUnanswered()
    {
        _stopReading.Cancel();
        while (_unanswered.Reader.TryRead(out _))
        {
        }
    }

    private static void WriteAnswer(PipeWriter writer, PublishResult result)
    {
        if (result.Ok)
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

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Bridge connection {BridgeConnectionId} opened from {RemoteEndPoint}")]
        public static partial void Opened(ILogger logger, long bridgeConnectionId, string? remoteEndPoint);

        [LoggerMessage(2, LogLevel.Debug, "Bridge connection {BridgeConnectionId} closed after {LinesRead} lines")]
        public static partial void Closed(ILogger logger, long bridgeConnectionId, long linesRead);

        [LoggerMessage(3, LogLevel.Debug, "Bridge connection {BridgeConnectionId}: read ended ({Error})")]
        public static partial void ReadEnded(ILogger logger, long bridgeConnectionId, string error);

        [LoggerMessage(4, LogLevel.Debug, "Bridge connection {BridgeConnectionId}: write ended ({Error})")]
        public static partial void WriteEnded(ILogger logger, long bridgeConnectionId, string error);
    }
}
