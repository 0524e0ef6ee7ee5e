namespace TopicBroker.Connections;

/// <summary>
/// The part of <see cref="Stream"/> a WebSocket's transport does not have: a duplex, unseekable,
/// asynchronous-only stream (<see cref="CoalescingStream"/>, <see cref="TransportStream"/>).
/// Subclasses implement <c>ReadAsync</c>, <c>WriteAsync</c> and <c>FlushAsync</c>.
/// </summary>
internal abstract class AsyncDuplexStream : Stream
{
    public sealed override bool CanRead => true;

    public sealed override bool CanSeek => false;

    public sealed override bool CanWrite => true;

    public sealed override long Length => throw new NotSupportedException();

    public sealed override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public sealed override void Flush() => throw new NotSupportedException("Asynchronous use only.");

    public sealed override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Asynchronous use only.");

    public sealed override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Asynchronous use only.");

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public sealed override void SetLength(long value) => throw new NotSupportedException();
}
