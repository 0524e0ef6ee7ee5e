using System.Buffers;
using System.Net.WebSockets;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Ingest;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Sites;
using TopicBroker.Topics;

namespace TopicBroker.Upstream;

/// <summary>
/// A restaurant broker's side of upstream replication (protocol.md "Sites and upstream
/// replication"): keeps one WebSocket link to the head office's <c>/replicate/&lt;site&gt;</c>
/// and forwards every committed change of the forwarded topics, in seq order, as the update
/// frames its own subscribers get. The head office's welcome says which seq it holds per topic;
/// forwarding resumes after it, from the topic's history (oldest first, live changes simply
/// follow), or, when the history no longer reaches back that far, with one snapshot (a
/// resynchronisation). The head office applies a seq at most once, so whatever a reconnect
/// resends is harmless. The acknowledged positions are saved in this broker's own store.
/// </summary>
internal sealed partial class UpstreamForwarder : BackgroundService
{
    private readonly UpstreamOptions _options;
    private readonly BrokerOptions _brokerOptions;
    private readonly IngestPipeline _pipeline;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<UpstreamForwarder> _logger;
    private readonly UpstreamTopic[] _topics;
    private readonly WakeSignal _wake = new();
    private volatile bool _connected;
    private volatile string? _lastError;
    private DateTimeOffset? _connectedAt;
    private long _connects;
    private long _protocolErrors;

    public UpstreamForwarder(TopicRegistry topics, IngestPipeline pipeline, IOptions<BrokerOptions> options, TimeProvider timeProvider, ILogger<UpstreamForwarder> logger)
    {
        _brokerOptions = options.Value;
        _options = options.Value.Upstream;
        _pipeline = pipeline;
        _timeProvider = timeProvider;
        _logger = logger;
        _topics = _options.Enabled
            ? [.. _options.Topics.Select(name => topics.TryGet(name, out var topic) ? new UpstreamTopic(topic) : null).OfType<UpstreamTopic>()]
            : [];
    }

    public bool Enabled => _options.Enabled;

    public IReadOnlyList<UpstreamTopic> Topics => _topics;

    public UpstreamStatus GetStatus() => new(
        _options.Url!,
        _options.Site!,
        _connected,
        _connectedAt,
        Interlocked.Read(ref _connects),
        _lastError,
        Interlocked.Read(ref _protocolErrors),
        _topics.ToDictionary(t => t.Name, t => new UpstreamTopicStatus(
            Seq: t.Local.Seq,
            Forwarded: t.Forwarded,
            Acknowledged: t.Acknowledged,
            Lag: Math.Max(0, t.Local.Seq - t.Acknowledged),
            Resyncs: t.Resyncs), StringComparer.Ordinal));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Enabled)
        {
            return;
        }

        await Task.Yield();
        try
        {
            var positions = await _pipeline.RunOnStoreAsync(store => store.LoadUpstreamPositionsAsync(stoppingToken), stoppingToken).ConfigureAwait(false);
            foreach (var topic in _topics)
            {
                topic.Acknowledged = topic.Forwarded = positions.GetValueOrDefault(topic.Name);
            }
        }
        catch (TopicBroker.Storage.StoreUnavailableException ex)
        {
            // Only the display until the first welcome suffers: the welcome says where to resume.
            Log.PositionsNotLoaded(_logger, ex.Message);
        }

        _pipeline.ChangesCommitted += _wake.Set;
        var delay = _options.ReconnectDelay;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var wasUp = await RunLinkAsync(stoppingToken).ConfigureAwait(false);
                await SavePositionsAsync(stoppingToken).ConfigureAwait(false);
                delay = wasUp ? _options.ReconnectDelay : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
                await Task.Delay(delay, _timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _pipeline.ChangesCommitted -= _wake.Set;
        }
    }

    /// <summary>One link, from connect to its end; true when it got as far as the welcome.</summary>
    private async Task<bool> RunLinkAsync(CancellationToken stoppingToken)
    {
        using var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = _brokerOptions.PingInterval;
        socket.Options.KeepAliveTimeout = _brokerOptions.PongTimeout;
        socket.Options.CollectHttpResponseDetails = true;
        if (!string.IsNullOrEmpty(_options.Token))
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + _options.Token);
        }

        using var link = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var welcomed = false;
        var uri = LinkUri(_options.Url!, _options.Site!);
        try
        {
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                connect.CancelAfter(_brokerOptions.HandshakeTimeout);
                await socket.ConnectAsync(uri, connect.Token).ConfigureAwait(false);
                var buffer = new ArrayBufferWriter<byte>(4096);
                var welcome = await ReplicationMessages.ReceiveAsync(socket, buffer, _brokerOptions.Sites.MaxReplicationMessageBytes, connect.Token).ConfigureAwait(false)
                    ?? throw new WebSocketException("The head office closed the link before its welcome.");
                TakeWelcome(welcome);
            }

            welcomed = true;
            _connected = true;
            _connectedAt = _timeProvider.GetUtcNow();
            _lastError = null;
            Interlocked.Increment(ref _connects);
            Log.LinkUp(_logger, uri, _topics.Count(t => t.AtHeadOffice));

            var receive = ReceiveLoopAsync(socket, link.Token);
            var send = SendLoopAsync(socket, link.Token);
            var first = await Task.WhenAny(receive, send).ConfigureAwait(false);
            await link.CancelAsync().ConfigureAwait(false);
            socket.Abort();
            await Task.WhenAll(Quietly(receive), Quietly(send)).ConfigureAwait(false);
            await first.ConfigureAwait(false);
        }
        catch (UpstreamProtocolException ex) when (!stoppingToken.IsCancellationRequested)
        {
            // A malformed answer ends this link only: nothing it acknowledged is taken back, and the
            // next welcome says again where to resume (protocol.md "The upstream link"). Counted
            // as a failed link, so a head office that keeps answering so is retried with back-off.
            welcomed = false;
            Interlocked.Increment(ref _protocolErrors);
            _lastError = "protocol error: " + ex.Message;
            Log.ProtocolError(_logger, uri, ex.Code, ex.Message);
        }
        catch (Exception ex) when (IsLinkFailure(ex))
        {
            if (stoppingToken.IsCancellationRequested)
            {
                return welcomed;
            }

            var reason = ex is WebSocketException && socket.HttpStatusCode is not (0 or System.Net.HttpStatusCode.SwitchingProtocols)
                ? $"the head office answered HTTP {(int)socket.HttpStatusCode}"
                : ex.Message;
            _lastError = reason;
            Log.LinkDown(_logger, uri, reason);
        }
        catch (Exception ex)
        {
            // The loop boundary: a fault of the link's own code ends that link, never the broker;
            // the next link resumes from its welcome.
            _lastError = "internal error: " + ex.Message;
            Log.LinkFaulted(_logger, uri, ex);
        }
        finally
        {
            _connected = false;
        }

        return welcomed;
    }

    private void TakeWelcome(byte[] message)
    {
        var welcome = Read(message);
        if (welcome.Type != HeadOfficeMessageType.Welcome)
        {
            throw welcome.Type == HeadOfficeMessageType.Error
                ? new UpstreamRefusedException(DescribeError(welcome))
                : new UpstreamProtocolException(ErrorCodes.UnknownType, "The head office's first message is not a welcome.");
        }

        foreach (var topic in _topics)
        {
            topic.AtHeadOffice = welcome.Topics!.TryGetValue(topic.Name, out var headSeq);
            if (!topic.AtHeadOffice)
            {
                Log.TopicNotAtHeadOffice(_logger, topic.Name);
                continue;
            }

            if (headSeq != topic.Acknowledged)
            {
                Log.HeadOfficeHoldsOtherSeq(_logger, topic.Name, headSeq, topic.Acknowledged);
            }

            // The head office's seq is the truth: it applied exactly the changes up to it.
            topic.Forwarded = topic.Acknowledged = headSeq;
        }
    }

    private async Task SendLoopAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var window = _options.Window;
        var frames = new List<OutboundFrame>(Math.Min(window, 1024));
        var nextReport = _timeProvider.GetTimestamp();
        var reportTicks = (long)(_options.ReportInterval.TotalSeconds * _timeProvider.TimestampFrequency);
        var saved = new Dictionary<string, long>(StringComparer.Ordinal);
        while (true)
        {
            // Taken before looking, so a change committed meanwhile wakes the wait below.
            var wake = _wake.NextAsync();
            var sent = false;
            foreach (var topic in _topics)
            {
                if (!topic.AtHeadOffice)
                {
                    continue;
                }

                var room = window - (int)Math.Clamp(topic.Forwarded - topic.Acknowledged, 0, window);
                if (room == 0)
                {
                    continue;
                }

                frames.Clear();
                if (topic.Local.TryCopyChangesAfter(topic.Forwarded, Math.Min(room, 1024), frames))
                {
                    foreach (var frame in frames)
                    {
                        await ReplicationMessages.SendAsync(socket, frame.Payload, cancellationToken).ConfigureAwait(false);
                        topic.Forwarded = frame.Seq;
                    }

                    sent |= frames.Count > 0;
                }
                else
                {
                    // The history no longer holds the next change (or the head office is ahead of
                    // this store): send the whole state, and go on from its seq.
                    var snapshot = topic.Local.GetSnapshot();
                    Log.Resynchronising(_logger, topic.Name, topic.Forwarded, snapshot.Seq);
                    await ReplicationMessages.SendAsync(socket, snapshot.Payload, cancellationToken).ConfigureAwait(false);
                    topic.Forwarded = snapshot.Seq;
                    topic.Acknowledged = Math.Min(topic.Acknowledged, snapshot.Seq);
                    topic.CountResync();
                    sent = true;
                }
            }

            var now = _timeProvider.GetTimestamp();
            if (now >= nextReport)
            {
                nextReport = now + reportTicks;
                await ReplicationMessages.SendAsync(socket, ReplicationMessages.PositionFrame(
                    _topics.Where(t => t.AtHeadOffice).Select(t => (t.Name, t.Local.Seq, t.Forwarded))), cancellationToken).ConfigureAwait(false);
                await SavePositionsAsync(saved, cancellationToken).ConfigureAwait(false);
            }

            if (!sent)
            {
                try
                {
                    var remaining = TimeSpan.FromSeconds(Math.Max(0, nextReport - _timeProvider.GetTimestamp()) / (double)_timeProvider.TimestampFrequency);
                    await wake.WaitAsync(remaining, _timeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Time to report.
                }
            }
        }
    }

    private async Task ReceiveLoopAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        var byName = _topics.ToDictionary(t => t.Name, StringComparer.Ordinal);
        while (true)
        {
            var message = await ReplicationMessages.ReceiveAsync(socket, buffer, _brokerOptions.Sites.MaxReplicationMessageBytes, cancellationToken).ConfigureAwait(false);
            if (message is null)
            {
                throw new WebSocketException($"The head office closed the link ({(int?)socket.CloseStatus} {socket.CloseStatusDescription}).");
            }

            var answer = Read(message);
            switch (answer.Type)
            {
                case HeadOfficeMessageType.Ack when byName.TryGetValue(answer.Topic!, out var topic) && topic.AtHeadOffice:
                    topic.Acknowledged = answer.Seq;
                    _wake.Set();
                    break;
                case HeadOfficeMessageType.Ack:
                    throw new UpstreamProtocolException(ErrorCodes.UnknownTopic, "An ack for a topic this link does not forward.");
                case HeadOfficeMessageType.Error:
                    throw new UpstreamRefusedException(DescribeError(answer));
                default:
                    throw new UpstreamProtocolException(ErrorCodes.UnknownType, "A second welcome on one link.");
            }
        }
    }

    /// <summary>One message of the head office's; anything malformed is a protocol error of this link.</summary>
    private static HeadOfficeMessage Read(byte[] message) =>
        HeadOfficeMessageReader.TryRead(message, out var answer, out var error)
            ? answer
            : throw new UpstreamProtocolException(error.Code, error.Message);

    private static string DescribeError(HeadOfficeMessage error) => $"the head office refused: {error.ErrorCode} {error.ErrorMessage}";

    /// <summary>How a link ends without a fault of this broker's: the network, the head office, a shutdown.</summary>
    private static bool IsLinkFailure(Exception ex) =>
        ex is WebSocketException or IOException or OperationCanceledException or UpstreamRefusedException or UpstreamProtocolException or InvalidDataException;

    private Task SavePositionsAsync(CancellationToken cancellationToken) => SavePositionsAsync(null, cancellationToken);

    /// <summary>Saves the acknowledged positions that moved since <paramref name="saved"/> (all when null).</summary>
    private async Task SavePositionsAsync(Dictionary<string, long>? saved, CancellationToken cancellationToken)
    {
        var changed = _topics
            .Where(t => saved is null || !saved.TryGetValue(t.Name, out var seq) || seq != t.Acknowledged)
            .ToDictionary(t => t.Name, t => t.Acknowledged, StringComparer.Ordinal);
        if (changed.Count == 0)
        {
            return;
        }

        try
        {
            await _pipeline.RunOnStoreAsync(async store => { await store.SaveUpstreamPositionsAsync(changed, CancellationToken.None).ConfigureAwait(false); return true; }, cancellationToken).ConfigureAwait(false);
            foreach (var (name, seq) in changed)
            {
                if (saved is not null)
                {
                    saved[name] = seq;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The pipeline drains for shutdown; the positions saved last stand.
        }
        catch (TopicBroker.Storage.StoreUnavailableException ex)
        {
            // Only the display of the position suffers: the head office's welcome says where to resume.
            Log.PositionsNotSaved(_logger, ex.Message);
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception ex) when (IsLinkFailure(ex))
        {
        }
    }

    /// <summary><c>http(s)://host[/base]</c> becomes <c>ws(s)://host[/base]/replicate/&lt;site&gt;</c>.</summary>
    internal static Uri LinkUri(string url, string site)
    {
        var builder = new UriBuilder(url);
        builder.Scheme = builder.Scheme switch { "https" or "wss" => "wss", _ => "ws" };
        builder.Path = builder.Path.TrimEnd('/') + ReplicationMessages.Path + "/" + site;
        return builder.Uri;
    }

    private sealed class UpstreamRefusedException(string message) : Exception(message);

    /// <summary>The head office sent something this broker cannot read (protocol.md "The upstream link").</summary>
    private sealed class UpstreamProtocolException(string code, string message) : Exception(message)
    {
        public string Code { get; } = code;
    }
}

/// <param name="ProtocolErrors">Links ended since start because the head office sent a malformed message.</param>
internal sealed record UpstreamStatus(string Url, string Site, bool Connected, DateTimeOffset? ConnectedAt, long Connects, string? LastError, long ProtocolErrors, Dictionary<string, UpstreamTopicStatus> Topics);

/// <param name="Seq">This broker's seq of the topic.</param>
/// <param name="Forwarded">The newest seq sent to the head office.</param>
/// <param name="Acknowledged">The newest seq the head office acknowledged (committed).</param>
/// <param name="Lag">Changes the head office has not acknowledged yet.</param>
/// <param name="Resyncs">Resynchronisations sent since start.</param>
internal sealed record UpstreamTopicStatus(long Seq, long Forwarded, long Acknowledged, long Lag, long Resyncs);
