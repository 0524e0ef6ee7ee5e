using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Text;
using TopicBroker.Bench.Measurement;

namespace TopicBroker.Bench.Clients;

/// <summary>
/// The client side of one TCP bridge connection (protocol.md "TCP bridge"; the broker's side is
/// Broker/Ingest/BridgeConnection), used pipelined: lines go out in batches
/// without waiting, and a separate read loop matches answers to lines by order (every line gets
/// exactly one answer, in order). The send time of every unanswered line sits in a ring, which
/// bounds the lines in flight and gives the commit latency (send to <c>{"ok":true}</c>).
/// One writer per connection: either a paced publisher thread or one ingest task.
/// </summary>
internal sealed class BridgeClientConnection : IAsyncDisposable
{
    private const int KeptRejectionSamples = 5;
    private const int ReadBufferBytes = 64 * 1024;

    private readonly Socket _socket;
    private readonly long[] _sentAt;
    private readonly int _ringMask;
    private readonly SemaphoreSlim _answerSignal = new(0);
    private readonly List<string> _rejections = [];
    private readonly Task _readLoop;

    private long _sent;
    private long _answered;
    private long _accepted;
    private long _rejected;
    private MeasurementWindow? _commitWindow;
    private LatencyHistogram _commitLatency = new();
    private string? _failure;

    private BridgeClientConnection(Socket socket, int maxInFlight)
    {
        _socket = socket;
        var ringSize = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(maxInFlight, 16));
        _sentAt = new long[ringSize];
        _ringMask = ringSize - 1;
        MaxInFlight = maxInFlight;
        _readLoop = ReadAnswersAsync();
    }

    public int MaxInFlight { get; }

    public long Sent => Volatile.Read(ref _sent);

    public long Answered => Volatile.Read(ref _answered);

    public long Accepted => Volatile.Read(ref _accepted);

    public long Rejected => Volatile.Read(ref _rejected);

    public long InFlight => Sent - Answered;

    public string? Failure => Volatile.Read(ref _failure);

    public IReadOnlyList<string> RejectionSamples
    {
        get
        {
            lock (_rejections)
            {
                return [.. _rejections];
            }
        }
    }

    public static async Task<BridgeClientConnection> ConnectAsync(IPEndPoint endPoint, int maxInFlight, string? accessToken, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
        {
            NoDelay = true,
            // A broker that stops reading must not hang the paced publisher's synchronous send forever.
            SendTimeout = 30_000,
        };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            if (accessToken is not null)
            {
                await AuthenticateAsync(socket, accessToken, cancellationToken).ConfigureAwait(false);
            }

            return new BridgeClientConnection(socket, maxInFlight);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends the <c>{"auth":"&lt;jwt&gt;"}</c> first line and waits for its answer before any
    /// pipelining starts, so the answer never has to be told apart from the publish answers.
    /// </summary>
    private static async Task AuthenticateAsync(Socket socket, string accessToken, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await socket.SendAsync(Encoding.UTF8.GetBytes($"{{\"auth\":\"{accessToken}\"}}\n"), SocketFlags.None, timeout.Token).ConfigureAwait(false);
        var buffer = new byte[4096];
        var length = 0;
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("The broker closed the bridge connection during authentication.");
            }

            length += read;
            var newline = buffer.AsSpan(0, length).IndexOf((byte)'\n');
            if (newline < 0)
            {
                if (length == buffer.Length)
                {
                    throw new InvalidDataException("The bridge's answer to the auth line is too long.");
                }

                continue;
            }

            var answer = buffer.AsSpan(0, newline);
            if (answer.IndexOf("\"ok\":true"u8) < 0 || newline + 1 != length)
            {
                throw new IOException($"The bridge refused the token: {Encoding.UTF8.GetString(answer)}");
            }

            return;
        }
    }

    /// <summary>Starts collecting commit latencies of lines whose send timestamp falls in <paramref name="window"/>.</summary>
    public void BeginCommitWindow(MeasurementWindow window)
    {
        // Called between steps, after every line was answered, so the read loop is idle.
        Volatile.Write(ref _commitLatency, new LatencyHistogram());
        Volatile.Write(ref _commitWindow, window);
    }

    public LatencyHistogram CommitLatency => Volatile.Read(ref _commitLatency);

    /// <summary>Sends <paramref name="lineCount"/> complete lines, all stamped <paramref name="timestamp"/>, on the calling thread.</summary>
    public void Send(ReadOnlySpan<byte> lines, int lineCount, long timestamp)
    {
        Register(lineCount, timestamp);
        while (!lines.IsEmpty)
        {
            var sent = _socket.Send(lines, SocketFlags.None);
            lines = lines[sent..];
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> lines, int lineCount, long timestamp, CancellationToken cancellationToken)
    {
        Register(lineCount, timestamp);
        while (!lines.IsEmpty)
        {
            var sent = await _socket.SendAsync(lines, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            lines = lines[sent..];
        }
    }

    /// <summary>Writes one line into <paramref name="destination"/> (at least <see cref="UpdateLineWriter.MaxLineBytes"/>) and returns its length.</summary>
    public delegate int LineWriter(Span<byte> destination, long timestamp);

    /// <summary>
    /// Keeps the in-flight window full until <paramref name="endTimestamp"/>: waits for a refill's
    /// worth of room (an eighth of the window), so writes are batches rather than single lines,
    /// then fills a batch of up to <paramref name="batchBytes"/> with what <paramref name="writeLine"/> writes.
    /// </summary>
    public async Task KeepWindowFullAsync(int batchBytes, TimeSpan answerTimeout, long endTimestamp, LineWriter writeLine, CancellationToken cancellationToken)
    {
        var batch = new byte[batchBytes];
        var refill = Math.Max(1, MaxInFlight / 8);
        while (MonotonicClock.Now < endTimestamp)
        {
            await WaitForRoomAsync(refill, answerTimeout, cancellationToken).ConfigureAwait(false);
            var room = (int)(MaxInFlight - InFlight);
            var now = MonotonicClock.Now;
            var length = 0;
            var count = 0;
            while (count < room && length + UpdateLineWriter.MaxLineBytes <= batch.Length)
            {
                length += writeLine(batch.AsSpan(length), now);
                count++;
            }

            await SendAsync(batch.AsMemory(0, length), count, now, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until <paramref name="lineCount"/> more lines fit under the in-flight bound.</summary>
    public async Task WaitForRoomAsync(int lineCount, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = MonotonicClock.Now + MonotonicClock.FromSeconds(timeout.TotalSeconds);
        while (InFlight + lineCount > MaxInFlight)
        {
            ThrowIfFailed();
            var remaining = MonotonicClock.ToSeconds(deadline - MonotonicClock.Now);
            if (remaining <= 0)
            {
                throw new TimeoutException($"The broker answered no bridge line for {timeout.TotalSeconds:0} s ({InFlight} in flight).");
            }

            await _answerSignal.WaitAsync(TimeSpan.FromSeconds(Math.Min(remaining, 1)), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until every sent line is answered; false if the timeout passed first.</summary>
    public async Task<bool> WaitForAllAnsweredAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = MonotonicClock.Now + MonotonicClock.FromSeconds(timeout.TotalSeconds);
        while (InFlight > 0)
        {
            ThrowIfFailed();
            var remaining = MonotonicClock.ToSeconds(deadline - MonotonicClock.Now);
            if (remaining <= 0)
            {
                return false;
            }

            await _answerSignal.WaitAsync(TimeSpan.FromSeconds(Math.Min(remaining, 1)), cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        _socket.Dispose();
        try
        {
            await _readLoop.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        _answerSignal.Dispose();
    }

    private void ThrowIfFailed()
    {
        if (Failure is { } failure)
        {
            throw new IOException($"The bridge connection failed: {failure}");
        }
    }

    private void Register(int lineCount, long timestamp)
    {
        var sent = _sent;
        if (sent + lineCount - Answered > _sentAt.Length)
        {
            throw new InvalidOperationException("More lines in flight than the ring holds; call WaitForRoomAsync first.");
        }

        for (var i = 0; i < lineCount; i++)
        {
            _sentAt[(sent + i) & _ringMask] = timestamp;
        }

        // Publish the stamps before the lines can be answered.
        Volatile.Write(ref _sent, sent + lineCount);
    }

    private async Task ReadAnswersAsync()
    {
        // Let the constructor finish before the first await touches fields.
        await Task.Yield();
        var buffer = new byte[ReadBufferBytes];
        var buffered = 0;
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(buffer.AsMemory(buffered), SocketFlags.None).ConfigureAwait(false);
                if (read == 0)
                {
                    Volatile.Write(ref _failure, "the broker closed the bridge connection");
                    break;
                }

                buffered += read;
                var now = MonotonicClock.Now;
                var consumed = ProcessAnswers(buffer.AsSpan(0, buffered), now);
                buffered -= consumed;
                if (buffered == buffer.Length)
                {
                    Volatile.Write(ref _failure, "an answer line longer than 64 KiB");
                    break;
                }

                if (buffered > 0 && consumed > 0)
                {
                    Buffer.BlockCopy(buffer, consumed, buffer, 0, buffered);
                }

                if (consumed > 0 && _answerSignal.CurrentCount == 0)
                {
                    _answerSignal.Release();
                }
            }
        }
        catch (SocketException ex)
        {
            Volatile.Write(ref _failure, $"socket error {ex.SocketErrorCode}");
        }
        catch (ObjectDisposedException)
        {
            Volatile.Write(ref _failure, "closed");
        }
        finally
        {
            try
            {
                _answerSignal.Release();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private int ProcessAnswers(ReadOnlySpan<byte> data, long now)
    {
        var consumed = 0;
        var window = Volatile.Read(ref _commitWindow);
        var histogram = Volatile.Read(ref _commitLatency);
        while (true)
        {
            var newline = data[consumed..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                return consumed;
            }

            var line = data.Slice(consumed, newline);
            consumed += newline + 1;
            var index = _answered;
            var sentAt = _sentAt[index & _ringMask];
            if (line.IndexOf("\"ok\":true"u8) >= 0)
            {
                _accepted++;
                if (window is not null && window.Contains(sentAt))
                {
                    histogram.Record(MonotonicClock.ToNanoseconds(now - sentAt));
                }
            }
            else
            {
                Interlocked.Increment(ref _rejected);
                lock (_rejections)
                {
                    if (_rejections.Count < KeptRejectionSamples)
                    {
                        _rejections.Add(Encoding.UTF8.GetString(line[..Math.Min(line.Length, 300)]));
                    }
                }
            }

            Volatile.Write(ref _answered, index + 1);
        }
    }
}
