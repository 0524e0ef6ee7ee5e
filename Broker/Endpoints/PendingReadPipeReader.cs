using System.IO.Pipelines;

namespace TopicBroker.Endpoints;

/// <summary>
/// Hands a connection on to HTTP after <see cref="WebSocketUpgradeMiddleware"/> looked at its
/// first bytes: the first read returns what the middleware read (not yet advanced past), so HTTP
/// sees the request exactly as it arrived; everything after goes straight to the transport.
/// </summary>
internal sealed class PendingReadPipeReader(PipeReader inner, ReadResult pending) : PipeReader
{
    private bool _hasPending = true;

    public override bool TryRead(out ReadResult result)
    {
        if (_hasPending)
        {
            _hasPending = false;
            result = pending;
            return true;
        }

        return inner.TryRead(out result);
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_hasPending)
        {
            _hasPending = false;
            return new ValueTask<ReadResult>(pending);
        }

        return inner.ReadAsync(cancellationToken);
    }

    public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
}
