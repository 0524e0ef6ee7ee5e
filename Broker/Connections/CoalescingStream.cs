using System.Buffers;
using Microsoft.AspNetCore.Http.Features;

namespace TopicBroker.Connections;

/// <summary>
/// Sits between the WebSocket and Kestrel's upgraded stream so that a connection's sender (its fan-out worker) can put every
/// frame it drains from its queue on the wire with one write (one flush, one system call)
/// instead of one per frame. Outside a batch, writes (the WebSocket's own pongs and closes) go
/// straight through. An idle connection holds no buffer: it is rented per batch.
/// </summary>
internal sealed class CoalescingStream(Stream inner) : AsyncDuplexStream
{
    /// <summary>A batch that grows past this is written out early, bounding the memory it takes.</summary>
    private const int MaxBatchBytes = 64 * 1024;

    private readonly Lock _bufferGate = new();
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private byte[]? _buffer;
    private int _count;
    private volatile bool _batching;

    /// <summary>
    /// Adds a complete WebSocket frame built elsewhere (<see cref="Protocol.OutboundFrame.WireBytes"/>)
    /// to the batch. Send loop only, inside a batch. A whole frame goes in under the lock, as the
    /// WebSocket's own writes (pongs, closes) do, so the two never interleave on the wire.
    /// Returns true when the batch is full and should be written out now.
    /// </summary>
    public bool Gather(ReadOnlySpan<byte> frame)
    {
        lock (_bufferGate)
        {
            if (_buffer is null || _buffer.Length - _count < frame.Length)
            {
                Grow(frame.Length);
            }

            frame.CopyTo(_buffer.AsSpan(_count));
            _count += frame.Length;
            return _count >= MaxBatchBytes;
        }
    }

    /// <summary>Writes what was gathered so far and stays in the batch. Send loop only.</summary>
    public ValueTask WriteGatheredAsync() => FlushGatheredAsync();

    /// <summary>From now on writes are gathered until <see cref="EndBatchAsync"/>. Send loop only.</summary>
    public void BeginBatch() => _batching = true;

    /// <summary>Writes what the batch gathered, in one write, and ends the batch. Send loop only.</summary>
    public async ValueTask EndBatchAsync()
    {
        while (true)
        {
            await FlushGatheredAsync().ConfigureAwait(false);
            lock (_bufferGate)
            {
                // A write that slipped in during the flush (the WebSocket answering a ping from the
                // receive side) goes out before the batch really ends.
                if (_count == 0)
                {
                    _batching = false;
                    return;
                }
            }
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        bool gathered = false, full = false;
        lock (_bufferGate)
        {
            // Decided under the lock: EndBatchAsync ends the batch only under it, so a write can
            // never land in the buffer after the batch's last flush.
            if (_batching)
            {
                if (_buffer is null || _buffer.Length - _count < source.Length)
                {
                    Grow(source.Length);
                }

                source.Span.CopyTo(_buffer.AsSpan(_count));
                _count += source.Length;
                full = _count >= MaxBatchBytes;
                gathered = true;
            }
        }

        if (gathered)
        {
            if (full)
            {
                await FlushGatheredAsync(cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await inner.WriteAsync(source, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(destination, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    // Gathered bytes go out at the end of the batch, not on the WebSocket's flush requests.
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _batching ? Task.CompletedTask : inner.FlushAsync(cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_bufferGate)
            {
                ReturnBuffer();
            }

            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        lock (_bufferGate)
        {
            ReturnBuffer();
        }

        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private async ValueTask FlushGatheredAsync(CancellationToken cancellationToken = default)
    {
        byte[]? buffer;
        int count;
        lock (_bufferGate)
        {
            buffer = _buffer;
            count = _count;
            _buffer = null;
            _count = 0;
        }

        if (buffer is null)
        {
            return;
        }

        try
        {
            if (count > 0)
            {
                await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await inner.WriteAsync(buffer.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _writeGate.Release();
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Grow(int needed)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(4096, Math.Max(needed + _count, (_buffer?.Length ?? 0) * 2)));
        if (_buffer is not null)
        {
            _buffer.AsSpan(0, _count).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = bigger;
    }

    private void ReturnBuffer()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
            _count = 0;
        }
    }
}

/// <summary>
/// Hands the WebSocket middleware a <see cref="CoalescingStream"/> around the upgraded
/// connection. Installed before UseWebSockets, which captures the upgrade feature per request.
/// </summary>
internal sealed class CoalescingUpgradeFeature(IHttpUpgradeFeature inner) : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    public CoalescingStream? Stream { get; private set; }

    public async Task<Stream> UpgradeAsync()
    {
        Stream = new CoalescingStream(await inner.UpgradeAsync().ConfigureAwait(false));
        return Stream;
    }

    /// <summary>Middleware: wraps the upgrade feature of WebSocket requests under <paramref name="pathPrefix"/>.</summary>
    public static Func<HttpContext, RequestDelegate, Task> Install(PathString pathPrefix) => (context, next) =>
    {
        if (context.Request.Path.StartsWithSegments(pathPrefix) && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            context.Features.Set<IHttpUpgradeFeature>(new CoalescingUpgradeFeature(upgrade));
        }

        return next(context);
    };
}
