using System.Buffers;
using System.IO.Pipelines;

namespace TopicBroker.Connections;

/// <summary>
/// A connection's transport pipes as the stream a WebSocket runs over, for a WebSocket upgraded
/// below HTTP (Endpoints/WebSocketUpgradeMiddleware.cs). A zero-byte read waits for data without
/// taking any, so an idle connection holds no receive buffer (Kestrel's socket transport also
/// waits for data before it rents one). Disposing leaves the pipes to Kestrel, which completes
/// them when the connection ends.
/// </summary>
internal sealed class TransportStream(IDuplexPipe transport) : AsyncDuplexStream
{
    private readonly PipeReader _input = transport.Input;
    private readonly PipeWriter _output = transport.Output;

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
        var buffer = result.Buffer;
        if (destination.Length == 0 || buffer.IsEmpty)
        {
            // Nothing taken: a zero-byte read only waited, and an empty buffer is the end (or a
            // cancelled read after Dispose), which a stream reports as 0.
            _input.AdvanceTo(buffer.Start);
            return 0;
        }

        var count = (int)Math.Min(buffer.Length, destination.Length);
        buffer.Slice(0, count).CopyTo(destination.Span);
        _input.AdvanceTo(buffer.GetPosition(count));
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) =>
        await _output.WriteAsync(source, cancellationToken).ConfigureAwait(false);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        _output.FlushAsync(cancellationToken).AsTask();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // An aborted WebSocket disposes its stream; a read still waiting ends with 0.
            _input.CancelPendingRead();
        }

        base.Dispose(disposing);
    }
}
