using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Threading.Channels;
using TopicBroker.Ingest;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;

namespace TopicBroker.Sites;

/// <summary>
/// One restaurant's replication link at the head office (protocol.md "Sites and upstream
/// replication"). The receive loop turns each frame into a pipeline call, in arrival order; the
/// ack loop, the socket's only writer after the welcome, awaits those calls in the same order and
/// acknowledges each committed seq. A refused change ends the link with an error frame: the
/// restaurant reconnects and resends from the seq the head office has.
/// </summary>
internal sealed partial class ReplicationSession
{
    /// <summary>Changes taken but not yet acknowledged; the receive loop waits beyond it (TCP backpressure).</summary>
    private const int MaxInFlight = 4096;

    private readonly WebSocket _socket;
    private readonly IngestPipeline _pipeline;
    private readonly Dictionary<string, SiteTopicLink> _topics;
    private readonly int _maxMessageBytes;
    private readonly TimeSpan _closeTimeout;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Channel<InFlight> _inFlight = Channel.CreateBounded<InFlight>(new BoundedChannelOptions(MaxInFlight) { SingleWriter = true });
    private readonly CancellationTokenSource _aborted = new();
    private readonly TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastActivityUnixMs;

    public ReplicationSession(
        long id,
        string site,
        IPAddress? remoteAddress,
        WebSocket socket,
        IngestPipeline pipeline,
        IReadOnlyList<SiteTopicLink> topics,
        int maxMessageBytes,
        TimeSpan closeTimeout,
        DateTimeOffset connectedAt,
        TimeProvider timeProvider,
        ILogger logger)
    {
        Id = id;
        Site = site;
        RemoteAddress = remoteAddress;
        _socket = socket;
        _pipeline = pipeline;
        _topics = topics.ToDictionary(t => t.Topic, StringComparer.Ordinal);
        _maxMessageBytes = maxMessageBytes;
        _closeTimeout = closeTimeout;
        ConnectedAt = connectedAt;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public long Id { get; }

    public string Site { get; }

    public IPAddress? RemoteAddress { get; }

    public DateTimeOffset ConnectedAt { get; }

    public IReadOnlyCollection<SiteTopicLink> Topics => _topics.Values;

    public long LastActivityUnixMs => Volatile.Read(ref _lastActivityUnixMs);

    public async Task RunAsync()
    {
        try
        {
            if (await GuardAsync(() => ReplicationMessages.SendAsync(_socket, ReplicationMessages.WelcomeFrame(Site, _topics.Values.Select(t => KeyValuePair.Create(t.Topic, t.State.Seq))), _aborted.Token).AsTask()).ConfigureAwait(false))
            {
                Log.LinkOpened(_logger, Id, Site, RemoteAddress, _topics.Count);
                // The two loops end together: whichever fails cancels the other.
                await Task.WhenAll(GuardAsync(AckLoopAsync), GuardAsync(ReceiveAndCompleteAsync)).ConfigureAwait(false);
            }
        }
        finally
        {
            await _aborted.CancelAsync().ConfigureAwait(false);
            _socket.Abort();
            // However the link ended, it ends only once every change it handed to the pipeline
            // is answered: the site's lock is released after this, so a link that follows never
            // writes while one of these is still on its way (protocol.md "Sites and upstream replication").
            _inFlight.Writer.TryComplete();
            await DrainUnansweredAsync(_inFlight.Reader).ConfigureAwait(false);
            _aborted.Dispose();
            Log.LinkClosed(_logger, Id, Site);
        }
    }

    /// <summary>Runs one loop; a dropped link ends it quietly and ends the other loop too. True when it ended normally.</summary>
    private async Task<bool> GuardAsync(Func<Task> loop)
    {
        try
        {
            await loop().ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            if (!_aborted.IsCancellationRequested)
            {
                Log.LinkDropped(_logger, Id, Site, ex.Message);
                await _aborted.CancelAsync().ConfigureAwait(false);
            }

            return false;
        }
    }

    private async Task ReceiveAndCompleteAsync()
    {
        try
        {
            await ReceiveLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            _inFlight.Writer.TryComplete();
        }
    }

    /// <summary>Ends the link at once (a newer link of the same site replaced it).</summary>
    public void Abort()
    {
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Ended already.
        }
    }

    /// <summary>Graceful stop: what was taken is still committed; the head office closes with 1001.</summary>
    public void RequestStop() => _stopRequested.TrySetResult();

    private async Task ReceiveLoopAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        while (true)
        {
            byte[]? message;
            try
            {
                message = await ReplicationMessages.ReceiveAsync(_socket, buffer, _maxMessageBytes, _aborted.Token).ConfigureAwait(false);
            }
            catch (InvalidDataException ex)
            {
                await _inFlight.Writer.WriteAsync(InFlight.Fault(ErrorCodes.TooLarge, ex.Message), _aborted.Token).ConfigureAwait(false);
                return;
            }

            if (message is null)
            {
                return;
            }

            Volatile.Write(ref _lastActivityUnixMs, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds());
            var item = Take(message);
            if (item is not null)
            {
                await _inFlight.Writer.WriteAsync(item, _aborted.Token).ConfigureAwait(false);
                if (item.IsFault)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Hands one frame to the pipeline; null for frames that need no answer; a fault for one that ends the link.</summary>
    private InFlight? Take(byte[] message)
    {
        if (!ReplicationFrameReader.TryRead(message, _topics, out var frame, out var error))
        {
            return InFlight.Fault(error.Code, error.Message);
        }

        if (frame.Type == ReplicationFrameType.Position)
        {
            foreach (var (topic, seq) in frame.Positions!)
            {
                _topics[topic].RestaurantSeq = seq;
            }

            return null;
        }

        var link = _topics[frame.Topic];
        link.Received = frame.Seq;
        if (frame.Type == ReplicationFrameType.Update)
        {
            return new InFlight(link, _pipeline.PublishAsync(new InboundChange(link.State, frame.Id!, frame.Data, frame.Seq), CancellationToken.None));
        }

        Log.Resynchronising(_logger, Id, Site, link.State.Name, frame.Seq, frame.Entities!.Count);
        return new InFlight(link, _pipeline.ResyncAsync(link.State, frame.Seq, frame.Entities, CancellationToken.None));
    }

    private async Task AckLoopAsync()
    {
        var reader = _inFlight.Reader;
        var unacknowledged = new HashSet<SiteTopicLink>();
        var stop = _stopRequested.Task;
        while (true)
        {
            var next = reader.WaitToReadAsync(_aborted.Token).AsTask();
            if (await Task.WhenAny(next, stop).ConfigureAwait(false) == stop)
            {
                await CloseAsync(CloseCodes.GoingAway, CloseCodes.ShuttingDownReason).ConfigureAwait(false);
                // What the restaurant sent meanwhile is still committed; unacknowledged, it is resent and found applied.
                await DrainUnansweredAsync(reader).ConfigureAwait(false);
                return;
            }

            if (!await next.ConfigureAwait(false))
            {
                // The restaurant closed the link: acknowledge what is committed, and answer its close.
                await SendAcksAsync(unacknowledged).ConfigureAwait(false);
                if (_socket.State == WebSocketState.CloseReceived)
                {
                    await CloseAsync(WebSocketCloseStatus.NormalClosure, "").ConfigureAwait(false);
                }

                return;
            }

            while (reader.TryRead(out var item))
            {
                var result = item.IsFault ? item.FaultResult : await item.Result!.ConfigureAwait(false);
                if (!result.Ok)
                {
                    await SendAcksAsync(unacknowledged).ConfigureAwait(false);
                    await RefuseAsync(item.Link, result).ConfigureAwait(false);
                    await DrainUnansweredAsync(reader).ConfigureAwait(false);
                    return;
                }

                item.Link!.Acknowledged = result.Seq;
                unacknowledged.Add(item.Link);
                // One ack per topic for a run of changes that completed together.
                if (!reader.TryPeek(out var following) || following.Result is not { IsCompleted: true })
                {
                    await SendAcksAsync(unacknowledged).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task SendAcksAsync(HashSet<SiteTopicLink> links)
    {
        foreach (var link in links)
        {
            await ReplicationMessages.SendAsync(_socket, ReplicationMessages.AckFrame(link.Topic, link.Acknowledged), _aborted.Token).ConfigureAwait(false);
        }

        links.Clear();
    }

    private async Task RefuseAsync(SiteTopicLink? link, PublishResult result)
    {
        Log.LinkRefused(_logger, Id, Site, link?.State.Name, result.Error!, result.Message!);
        await ReplicationMessages.SendAsync(_socket, ReplicationMessages.ErrorFrame(link?.Topic, result.Error!, result.Message!), _aborted.Token).ConfigureAwait(false);
        var (status, reason) = result.Error switch
        {
            ErrorCodes.ShuttingDown => (CloseCodes.GoingAway, CloseCodes.ShuttingDownReason),
            ErrorCodes.Unavailable => (CloseCodes.TryAgainLater, "store unavailable"),
            _ => (CloseCodes.PolicyViolation, result.Error!),
        };
        await CloseAsync(status, reason).ConfigureAwait(false);
    }

    private async Task CloseAsync(WebSocketCloseStatus status, string reason)
    {
        // Whatever the restaurant does next, the link is gone after the close timeout.
        _aborted.CancelAfter(_closeTimeout);
        await _socket.CloseOutputAsync(status, reason, _aborted.Token).ConfigureAwait(false);
    }

    /// <summary>After the close: every change already handed to the pipeline is still awaited, so none is left without an owner.</summary>
    private static async Task DrainUnansweredAsync(ChannelReader<InFlight> reader)
    {
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var item))
            {
                if (item.Result is { } result)
                {
                    await result.ConfigureAwait(false);
                }
            }
        }
    }

    private sealed class InFlight(SiteTopicLink? link, Task<PublishResult>? result, PublishResult fault = default)
    {
        public SiteTopicLink? Link { get; } = link;

        public Task<PublishResult>? Result { get; } = result;

        public PublishResult FaultResult { get; } = fault;

        public bool IsFault => Result is null;

        public static InFlight Fault(string code, string message) => new(null, null, PublishResult.Rejected(code, message));
    }
}
