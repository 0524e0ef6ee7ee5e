using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using TopicBroker.Bench.Measurement;

namespace TopicBroker.Bench.Clients;

/// <summary>
/// A minimal RFC 6455 client for subscribers: the upgrade is written by hand and server frames
/// are parsed straight out of one receive buffer that the socket owns for its whole life, so a
/// received update costs no allocation (no string, no JSON DOM, no pooled message). Only this
/// receive loop writes to the socket (pong and close answers), keeping one writer per socket.
/// </summary>
internal sealed class RawWebSocketSubscriber : IDisposable
{
    // The sample nonce of RFC 6455 section 1.3 and its accept value; loopback needs no secrecy.
    private const string HandshakeKey = "dGhlIHNhbXBsZSBub25jZQ==";
    private const ushort NormalClosure = 1000;

    private readonly Socket _socket;
    private readonly byte[] _buffer;
    private readonly ActiveWindow _window;
    private readonly int? _node;
    private readonly TaskCompletionSource<bool> _firstFrame = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _buffered;
    private long _skipRemaining;
    private byte[]? _pendingReply;
    private bool _closeReceived;
    private bool _ended;

    private long _updates;
    private long _expectedSequence;
    private long _missing;
    private long _duplicates;
    private long _seqRegressions;
    private long _lastSeq = -1;
    private long _snapshots;
    private long _pings;
    private long _otherFrames;
    private long _unparsedUpdates;
    private long _fragmentedFrames;
    private long _oversizedFrames;
    private long _firstFrameAt;
    private long _lastUpdateAt;

    private RawWebSocketSubscriber(Socket socket, int bufferSize, int topicIndex, ActiveWindow window, int? node)
    {
        _node = node;
        _socket = socket;
        _buffer = new byte[bufferSize];
        TopicIndex = topicIndex;
        _window = window;
    }

    public int TopicIndex { get; }

    public Task<bool> FirstFrame => _firstFrame.Task;

    public long FirstFrameTimestamp => Volatile.Read(ref _firstFrameAt);

    public long LastUpdateTimestamp => Volatile.Read(ref _lastUpdateAt);

    public long Updates => Volatile.Read(ref _updates);

    /// <summary>The next publisher sequence number <c>n</c> this subscriber expects; every n below it was seen or counted missing.</summary>
    public long ExpectedSequence => Volatile.Read(ref _expectedSequence);

    public long Missing => Volatile.Read(ref _missing);

    public long Duplicates => Volatile.Read(ref _duplicates);

    public long SeqRegressions => Volatile.Read(ref _seqRegressions);

    /// <summary>The highest broker seq seen (the snapshot's, then the updates'); -1 before the first frame.</summary>
    public long LastSeq => Volatile.Read(ref _lastSeq);

    public long Snapshots => Volatile.Read(ref _snapshots);

    public long Pings => Volatile.Read(ref _pings);

    public long OtherFrames => Volatile.Read(ref _otherFrames);

    public long UnparsedUpdates => Volatile.Read(ref _unparsedUpdates);

    public long FragmentedFrames => Volatile.Read(ref _fragmentedFrames);

    public long OversizedFrames => Volatile.Read(ref _oversizedFrames);

    public bool IsOpen => !Volatile.Read(ref _ended);

    public int? CloseStatus { get; private set; }

    public string? CloseReason { get; private set; }

    public string? Failure { get; private set; }

    /// <summary>The first error or shutdown frame seen, kept for the report.</summary>
    public string? UnexpectedFrame { get; private set; }

    public static byte[] BuildHandshake(string hostHeader, string path, string? accessToken) =>
        Encoding.ASCII.GetBytes(
            $"GET {path} HTTP/1.1\r\n" +
            $"Host: {hostHeader}\r\n" +
            (accessToken is null ? string.Empty : $"Authorization: Bearer {accessToken}\r\n") +
            "Upgrade: websocket\r\n" +
            "Connection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {HandshakeKey}\r\n" +
            "Sec-WebSocket-Version: 13\r\n" +
            "\r\n");

    public static async Task<RawWebSocketSubscriber> ConnectAsync(
        IPEndPoint server,
        IPAddress? localAddress,
        byte[] handshake,
        int topicIndex,
        int bufferSize,
        ActiveWindow window,
        int? node,
        CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (localAddress is not null)
            {
                socket.Bind(new IPEndPoint(localAddress, 0));
            }

            await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
            var subscriber = new RawWebSocketSubscriber(socket, bufferSize, topicIndex, window, node);
            await subscriber.HandshakeAsync(handshake, cancellationToken).ConfigureAwait(false);
            return subscriber;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The receive loop. It ends when the broker closes, on a protocol error, or when
    /// <paramref name="stopToken"/> is cancelled, in which case it sends a close frame itself.
    /// </summary>
    public async Task RunAsync(CancellationToken stopToken)
    {
        try
        {
            ProcessBuffered(MonotonicClock.Now);
            while (!_closeReceived)
            {
                if (_pendingReply is { } reply)
                {
                    _pendingReply = null;
                    await _socket.SendAsync(reply, SocketFlags.None, stopToken).ConfigureAwait(false);
                }

                var read = await _socket.ReceiveAsync(_buffer.AsMemory(_buffered), SocketFlags.None, stopToken).ConfigureAwait(false);
                if (read == 0)
                {
                    Failure ??= "the broker closed the TCP connection without a close frame";
                    break;
                }

                _buffered += read;
                ProcessBuffered(MonotonicClock.Now);
            }

            if (_closeReceived)
            {
                // Echo the close (RFC 6455 section 5.5.1) so the broker's close handshake completes.
                await TrySendAsync(ClientFrames.Close(NormalClosure)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopToken.IsCancellationRequested)
        {
            await TrySendAsync(ClientFrames.Close(NormalClosure)).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            Failure ??= $"socket error {ex.SocketErrorCode}";
        }
        catch (InvalidDataException ex)
        {
            Failure ??= ex.Message;
        }
        catch (ObjectDisposedException)
        {
            Failure ??= "disposed";
        }
        finally
        {
            Volatile.Write(ref _ended, true);
            _firstFrame.TrySetResult(false);
        }
    }

    public void Dispose() => _socket.Dispose();

    private async Task HandshakeAsync(byte[] handshake, CancellationToken cancellationToken)
    {
        await _socket.SendAsync(handshake, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            if (_buffered == _buffer.Length)
            {
                throw new InvalidDataException("The upgrade response does not fit in the receive buffer.");
            }

            var read = await _socket.ReceiveAsync(_buffer.AsMemory(_buffered), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new InvalidDataException("The broker closed the connection during the upgrade.");
            }

            _buffered += read;
            var headerEnd = _buffer.AsSpan(0, _buffered).IndexOf("\r\n\r\n"u8);
            if (headerEnd < 0)
            {
                continue;
            }

            var header = _buffer.AsSpan(0, headerEnd);
            if (!header.StartsWith("HTTP/1.1 101"u8))
            {
                var statusLineEnd = header.IndexOf("\r\n"u8);
                var statusLine = Encoding.ASCII.GetString(statusLineEnd < 0 ? header : header[..statusLineEnd]);
                throw new InvalidDataException($"The upgrade was refused: {statusLine}");
            }

            if (header.IndexOf("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="u8) < 0)
            {
                throw new InvalidDataException("The upgrade response has no matching Sec-WebSocket-Accept.");
            }

            // Frames may already follow the header in the same read.
            var consumed = headerEnd + 4;
            _buffered -= consumed;
            Buffer.BlockCopy(_buffer, consumed, _buffer, 0, _buffered);
            return;
        }
    }

    private void ProcessBuffered(long receivedAt)
    {
        var buffer = _buffer;
        var position = 0;
        var end = _buffered;
        while (position < end && !_closeReceived)
        {
            if (_skipRemaining > 0)
            {
                var skip = (int)Math.Min(_skipRemaining, end - position);
                position += skip;
                _skipRemaining -= skip;
                continue;
            }

            var available = end - position;
            if (available < 2)
            {
                break;
            }

            var first = buffer[position];
            var second = buffer[position + 1];
            if ((second & 0x80) != 0)
            {
                throw new InvalidDataException("The broker sent a masked frame (RFC 6455 section 5.1 forbids it).");
            }

            long length = second & 0x7F;
            var headerLength = 2;
            if (length == 126)
            {
                if (available < 4)
                {
                    break;
                }

                length = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(position + 2));
                headerLength = 4;
            }
            else if (length == 127)
            {
                if (available < 10)
                {
                    break;
                }

                length = (long)BinaryPrimitives.ReadUInt64BigEndian(buffer.AsSpan(position + 2));
                headerLength = 10;
                if (length < 0)
                {
                    throw new InvalidDataException("The broker sent a frame length over 2^63.");
                }
            }

            var frameLength = headerLength + length;
            if (frameLength > available)
            {
                if (frameLength <= buffer.Length)
                {
                    break; // The rest is still on its way.
                }

                // A frame larger than the whole buffer (a big snapshot): classify it by its start,
                // where the type is, and skip the rest as it arrives.
                OnOversizedFrame(first, buffer.AsSpan(position + headerLength, available - headerLength), receivedAt);
                _skipRemaining = frameLength - available;
                position = end;
                break;
            }

            OnFrame(first, buffer.AsSpan(position + headerLength, (int)length), receivedAt);
            position += (int)frameLength;
        }

        var remaining = end - position;
        if (remaining > 0 && position > 0)
        {
            Buffer.BlockCopy(buffer, position, buffer, 0, remaining);
        }

        _buffered = remaining;
    }

    private void OnFrame(byte first, ReadOnlySpan<byte> payload, long receivedAt)
    {
        var fin = (first & 0x80) != 0;
        var opcode = (byte)(first & 0x0F);
        switch (opcode)
        {
            case ClientFrames.OpcodeText when fin:
                OnTextFrame(payload, receivedAt);
                break;
            case ClientFrames.OpcodeText:
            case ClientFrames.OpcodeContinuation:
                // The broker sends every message as one frame; a fragmented one is counted, not reassembled.
                _fragmentedFrames++;
                MarkFirstFrame(receivedAt);
                break;
            case ClientFrames.OpcodeClose:
                CloseStatus = payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : 1005;
                CloseReason = payload.Length > 2 ? Encoding.UTF8.GetString(payload[2..]) : string.Empty;
                _closeReceived = true;
                break;
            case ClientFrames.OpcodePing:
                _pendingReply = ClientFrames.Encode(ClientFrames.OpcodePong, payload);
                break;
            case ClientFrames.OpcodePong:
                break;
            default:
                _otherFrames++;
                MarkFirstFrame(receivedAt);
                break;
        }
    }

    private void OnTextFrame(ReadOnlySpan<byte> json, long receivedAt)
    {
        switch (FrameScanner.Classify(json))
        {
            case FrameKind.Update:
                OnUpdate(json, receivedAt);
                break;
            case FrameKind.Snapshot:
                _snapshots++;
                if (_node is not null && _snapshots == 1 && FrameScanner.TryReadInt64(json, "\"seq\""u8, out var snapshotSeq))
                {
                    // The cluster scenario counts from the snapshot: the next update must be its seq + 1.
                    Volatile.Write(ref _lastSeq, snapshotSeq);
                }

                break;
            case FrameKind.Ping:
                _pings++;
                _pendingReply = ClientFrames.Encode(ClientFrames.OpcodeText, FrameScanner.BuildPong(json));
                break;
            case FrameKind.Error:
            case FrameKind.Shutdown:
                _otherFrames++;
                UnexpectedFrame ??= Encoding.UTF8.GetString(json[..Math.Min(json.Length, 300)]);
                break;
            default:
                _otherFrames++;
                break;
        }

        MarkFirstFrame(receivedAt);
    }

    private void OnUpdate(ReadOnlySpan<byte> json, long receivedAt)
    {
        _updates++;
        _lastUpdateAt = receivedAt;
        if (!FrameScanner.TryReadUpdate(json, out var sentAt, out var sequence, out var seq))
        {
            _unparsedUpdates++;
            return;
        }

        if (_node is { } node)
        {
            OnClusterUpdate(json, node, seq, sentAt, receivedAt);
            return;
        }

        // protocol.md "Frames": updates arrive in seq order.
        if (seq <= _lastSeq)
        {
            _seqRegressions++;
        }
        else
        {
            _lastSeq = seq;
        }

        if (sequence == _expectedSequence)
        {
            _expectedSequence++;
        }
        else if (sequence > _expectedSequence)
        {
            _missing += sequence - _expectedSequence;
            _expectedSequence = sequence + 1;
        }
        else
        {
            _duplicates++;
        }

        var window = _window.Current;
        if (window is not null && window.Contains(sentAt))
        {
            window.Recorder.Record(MonotonicClock.ToNanoseconds(receivedAt - sentAt));
        }
    }

    /// <summary>
    /// The cluster scenario: several publishers on several nodes write to one topic, so their own
    /// sequence numbers say nothing; the broker's seq must go up by exactly one per update
    /// (protocol.md "Cluster": every update of the topic, once, in seq order, on every node).
    /// A jump counts the seqs skipped as missing, a repeat of the last seq as a duplicate, an
    /// older one as a regression. The latency goes to the same-node or the cross-node record.
    /// </summary>
    private void OnClusterUpdate(ReadOnlySpan<byte> json, int node, long seq, long sentAt, long receivedAt)
    {
        var last = _lastSeq;
        if (seq > last)
        {
            _missing += seq - last - 1;
            Volatile.Write(ref _lastSeq, seq);
        }
        else if (seq == last)
        {
            _duplicates++;
        }
        else
        {
            _seqRegressions++;
        }

        var window = _window.Current;
        if (window is not null && window.Contains(sentAt))
        {
            if (!FrameScanner.TryReadOrigin(json, out var origin))
            {
                _unparsedUpdates++;
                return;
            }

            var recorder = origin == node ? window.Recorder : window.CrossNodeRecorder;
            recorder.Record(MonotonicClock.ToNanoseconds(receivedAt - sentAt));
        }
    }

    private void OnOversizedFrame(byte first, ReadOnlySpan<byte> start, long receivedAt)
    {
        _oversizedFrames++;
        if ((first & 0x0F) == ClientFrames.OpcodeText && FrameScanner.Classify(start) == FrameKind.Snapshot)
        {
            _snapshots++;
        }
        else
        {
            _otherFrames++;
        }

        MarkFirstFrame(receivedAt);
    }

    private void MarkFirstFrame(long receivedAt)
    {
        if (_firstFrameAt == 0)
        {
            Volatile.Write(ref _firstFrameAt, receivedAt);
            _firstFrame.TrySetResult(true);
        }
    }

    private async Task TrySendAsync(byte[] frame)
    {
        try
        {
            // Loopback, a few bytes: this completes at once unless the peer is gone.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _socket.SendAsync(frame, SocketFlags.None, timeout.Token).ConfigureAwait(false);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        catch (OperationCanceledException)
        {
        }
    }
}
