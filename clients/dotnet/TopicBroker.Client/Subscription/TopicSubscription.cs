using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace TopicBroker.Client.Subscription;

/// <summary>
/// A subscription to one topic (protocol.md "WebSocket"): enumerate it to get the topic's
/// snapshot and then every update, in seq order, for as long as you keep enumerating. It never
/// misses a change: after any disconnect it reconnects with capped exponential backoff and full
/// jitter (or after the broker's <c>reconnectAfterMs</c> when the broker shuts down) and resumes
/// with <c>?since=&lt;seq&gt;</c>, so the broker replays what happened meanwhile, or sends a fresh
/// snapshot if it cannot.
/// </summary>
/// <remarks>
/// The subscription also keeps the topic's state (<see cref="Entities"/>, <see cref="Seq"/>),
/// applied before each event is yielded. One enumeration at a time; a later enumeration
/// resumes from the state the previous one left. Frames are read only while the consumer asks
/// for the next event: a consumer that stalls far longer than the broker's
/// <c>Broker:PongTimeout</c> is disconnected and resumes afterwards, losing nothing.
/// </remarks>
public sealed partial class TopicSubscription : IAsyncEnumerable<TopicEvent>
{
    private const int CloseUnsupported = 1003;

    private readonly TopicSubscriptionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, JsonElement> _entities = new(StringComparer.Ordinal);

    // Sends (pongs and token refreshes) come from the enumeration and from RefreshTokenAsync; a
    // WebSocket allows one send at a time.
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Lock _lock = new();
    private readonly Queue<TaskCompletionSource<TokenRefreshAnswer>> _pendingRefreshes = new();
    private ClientWebSocket? _socket;

    private int _enumerating;
    private long _reconnects;

    /// <summary>Creates a subscription; nothing connects until it is enumerated.</summary>
    public TopicSubscription(TopicSubscriptionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = options.TimeProvider;
        _logger = options.Logger;
        Topic = Uri.UnescapeDataString(options.Uri.Segments[^1].TrimEnd('/'));
    }

    /// <summary>Raised on the enumerating thread whenever <see cref="Status"/> changes.</summary>
    public event EventHandler<TopicConnectionStatus>? StatusChanged;

    /// <summary>The topic: the last segment of the URL.</summary>
    public string Topic { get; }

    /// <summary>Entity id to data, as of <see cref="Seq"/>. Read it between events, on the enumerating thread.</summary>
    public IReadOnlyDictionary<string, JsonElement> Entities => _entities;

    /// <summary>The seq of the last snapshot or update applied; null before the first.</summary>
    public long? Seq { get; private set; }

    /// <summary>The connection state.</summary>
    public TopicConnectionStatus Status { get; private set; }

    /// <summary>Connections opened after the first one.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>The last shutdown frame's data, or null.</summary>
    public ShutdownNotice? LastShutdown { get; private set; }

    /// <summary>The delay before the reconnect that is pending, or null when none is.</summary>
    public TimeSpan? ReconnectDelay { get; private set; }

    /// <summary>Why the subscription stopped for good (close 1003), or null.</summary>
    public string? CloseReason { get; private set; }

    /// <summary>
    /// Replaces the connection's token in place, before the old one expires (protocol.md
    /// "Tokens"): sends <c>{"type":"auth"}</c> and completes with the broker's answer, which
    /// arrives while the subscription is being enumerated. Throws
    /// <see cref="TokenRefreshRefusedException"/> when the broker refuses it (the old token stays in
    /// force) or the connection drops first. Later connections ask
    /// <see cref="TopicSubscriptionOptions.AccessToken"/> as before.
    /// </summary>
    public async Task<TokenRefreshAnswer> RefreshTokenAsync(string token, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        var answer = new TaskCompletionSource<TokenRefreshAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        ClientWebSocket socket;
        lock (_lock)
        {
            socket = _socket is { State: WebSocketState.Open } open
                ? open
                : throw new TokenRefreshRefusedException("not_connected", "no connection is open");
            _pendingRefreshes.Enqueue(answer);
        }

        var frame = new ArrayBufferWriter<byte>(token.Length + 48);
        using (var writer = new Utf8JsonWriter(frame))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "auth");
            writer.WriteStartObject("data");
            writer.WriteString("token", token);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        await SendAsync(socket, frame.WrittenMemory, cancellationToken).ConfigureAwait(false);
        return await answer.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerator<TopicEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _enumerating, 1) != 0)
        {
            throw new InvalidOperationException("The subscription is already being enumerated.");
        }

        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        var failedAttempts = 0;
        var connectedBefore = false;
        try
        {
            SetStatus(Seq is null ? TopicConnectionStatus.Connecting : TopicConnectionStatus.Reconnecting);
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var socket = await TryConnectAsync(cancellationToken).ConfigureAwait(false);
                TimeSpan? shutdownDelay = null;
                var ending = "";
                if (socket is not null)
                {
                    if (connectedBefore)
                    {
                        Interlocked.Increment(ref _reconnects);
                    }

                    connectedBefore = true;
                    SetStatus(TopicConnectionStatus.Live);
                    using var stale = new CancellationTokenSource(_options.StaleAfter, _time);
                    using var receiving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stale.Token);
                    try
                    {
                        while (true)
                        {
                            var received = await ReceiveAsync(socket, buffer, stale, receiving.Token).ConfigureAwait(false);
                            if (received.Ending is not null)
                            {
                                ending = received.Ending;
                                break;
                            }

                            // A frame proves the connection works: the next drop starts from a short delay again.
                            failedAttempts = 0;
                            var outcome = await HandleFrameAsync(socket, buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                            if (outcome.Shutdown is { } notice)
                            {
                                shutdownDelay = notice.ReconnectAfter;
                            }

                            if (outcome.Event is { } topicEvent)
                            {
                                yield return topicEvent;
                            }
                        }
                    }
                    finally
                    {
                        DetachSocket(socket);
                    }

                    cancellationToken.ThrowIfCancellationRequested();
                    if (socket.CloseStatus is (WebSocketCloseStatus)CloseUnsupported)
                    {
                        // The topic does not exist (or we sent a binary frame); retrying cannot help.
                        CloseReason = socket.CloseStatusDescription ?? "unsupported";
                        SetStatus(TopicConnectionStatus.Closed);
                        throw new TopicUnavailableException($"The broker closed the subscription to '{Topic}' for good: {CloseReason}");
                    }
                }
                else
                {
                    ending = "could not connect";
                }

                // Come back when the broker said, not at once, so that its clients do not all return in the same instant.
                var delay = shutdownDelay ?? Backoff.Next(_options.InitialBackoff, _options.MaxBackoff, failedAttempts++);
                Log.Reconnecting(_logger, Topic, ending, (long)delay.TotalMilliseconds);
                ReconnectDelay = delay;
                SetStatus(TopicConnectionStatus.Reconnecting);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                ReconnectDelay = null;
            }
        }
        finally
        {
            ReconnectDelay = null;
            SetStatus(TopicConnectionStatus.Closed);
            Volatile.Write(ref _enumerating, 0);
        }
    }

    private async Task<ClientWebSocket?> TryConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        try
        {
            _options.ConfigureWebSocket?.Invoke(socket.Options);
            socket.Options.CollectHttpResponseDetails = true;
            // The broker pings; the client answers. No protocol-level keep-alive of its own.
            socket.Options.KeepAliveInterval = TimeSpan.Zero;
            if (_options.AccessToken is { } accessToken)
            {
                // Non-browser clients send the token as a header (protocol.md "WebSocket"): it stays out of URLs and logs.
                socket.Options.SetRequestHeader("Authorization", "Bearer " + await accessToken(cancellationToken).ConfigureAwait(false));
            }

            // Resume from the newest point known: our own seq, or the broker's resumeFrom from a
            // shutdown frame, whichever is greater (protocol.md "Frames", shutdown).
            var since = Math.Max(Seq ?? -1, LastShutdown?.ResumeFrom ?? -1);
            var uri = since < 0 ? _options.Uri : WithSince(_options.Uri, since);
            using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
            using var connecting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            await socket.ConnectAsync(uri, connecting.Token).ConfigureAwait(false);
            lock (_lock)
            {
                _socket = socket;
            }

            Log.Connected(_logger, Topic, since < 0 ? null : since);
            return socket;
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            Log.ConnectFailed(_logger, Topic, (int)socket.HttpStatusCode, ex.Message);
            socket.Dispose();
            return null;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads one whole message into <paramref name="buffer"/>; an ending when the connection is over.</summary>
    private async Task<Received> ReceiveAsync(ClientWebSocket socket, ArrayBufferWriter<byte> buffer, CancellationTokenSource stale, CancellationToken cancellationToken)
    {
        buffer.ResetWrittenCount();
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.GetMemory(4096), cancellationToken).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return new Received($"the broker closed the connection ({(int?)socket.CloseStatus} {socket.CloseStatusDescription})");
                }

                buffer.Advance(result.Count);
                if (result.EndOfMessage)
                {
                    // Any frame counts as life; the stale timer starts over.
                    stale.CancelAfter(_options.StaleAfter);
                    return result.MessageType == WebSocketMessageType.Text ? default : await ReceiveAsync(socket, buffer, stale, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stale.IsCancellationRequested)
        {
            // The linked token fired because of the stale timer, not the caller.
            return new Received($"nothing for {_options.StaleAfter.TotalSeconds:F0} s, presuming the connection dead");
        }
        catch (Exception ex) when (ex is WebSocketException or IOException)
        {
            return new Received($"the connection failed ({ex.Message})");
        }
    }

    private async Task<FrameOutcome> HandleFrameAsync(ClientWebSocket socket, ReadOnlyMemory<byte> text, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            return default; // the broker only sends JSON; ignore anything else rather than fail
        }

        using (document)
        {
            var frame = document.RootElement;
            if (frame.ValueKind != JsonValueKind.Object || !frame.TryGetProperty("type", out var type))
            {
                return default;
            }

            var data = frame.TryGetProperty("data", out var d) ? d : default;
            switch (type.GetString())
            {
                case "ping":
                    await SendPongAsync(socket, data, cancellationToken).ConfigureAwait(false);
                    return default;

                case "snapshot" when frame.TryGetProperty("seq", out var seqElement) && seqElement.TryGetInt64(out var seq):
                    var entities = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                    if (data.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var entity in data.EnumerateObject())
                        {
                            entities[entity.Name] = entity.Value.Clone();
                        }
                    }

                    _entities.Clear();
                    foreach (var (id, value) in entities)
                    {
                        _entities[id] = value;
                    }

                    Seq = seq;
                    return new FrameOutcome(new TopicSnapshot(Topic, seq, entities), null);

                case "update" when frame.TryGetProperty("seq", out var seqElement) && seqElement.TryGetInt64(out var seq)
                                   && frame.TryGetProperty("id", out var idElement) && idElement.GetString() is { } id:
                    // Updates can repeat across a reconnect; one already applied is not applied twice.
                    if (Seq is { } applied && seq <= applied)
                    {
                        return default;
                    }

                    var delete = frame.TryGetProperty("op", out var op) && op.ValueEquals("delete"u8);
                    JsonElement? changed = delete ? null : data.Clone();
                    if (changed is { } upserted)
                    {
                        _entities[id] = upserted;
                    }
                    else
                    {
                        _entities.Remove(id);
                    }

                    Seq = seq;
                    return new FrameOutcome(new TopicUpdate(Topic, seq, id, delete ? TopicOperation.Delete : TopicOperation.Upsert, changed), null);

                case "shutdown" when data.ValueKind == JsonValueKind.Object:
                    // The broker is restarting; a close 1001 follows.
                    var notice = new ShutdownNotice(
                        data.TryGetProperty("reason", out var reason) ? reason.GetString() ?? "" : "",
                        TimeSpan.FromMilliseconds(data.TryGetProperty("reconnectAfterMs", out var after) && after.TryGetInt64(out var ms) ? Math.Max(0, ms) : 0),
                        data.TryGetProperty("resumeFrom", out var resume) && resume.TryGetInt64(out var resumeFrom) ? resumeFrom : -1);
                    LastShutdown = notice;
                    return new FrameOutcome(null, notice);

                case "auth":
                    CompleteRefresh(pending => pending.TrySetResult(new TokenRefreshAnswer(
                        data.ValueKind == JsonValueKind.Object && data.TryGetProperty("expiresAt", out var expires) && expires.TryGetInt64(out var expiresMs)
                            ? DateTimeOffset.FromUnixTimeMilliseconds(expiresMs)
                            : null)));
                    return default;

                case "error":
                    var code = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("code", out var c) ? c.GetString() ?? "" : "";
                    var message = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("message", out var m) ? m.GetString() : null;
                    if (code is "invalid_token" or "forbidden" && CompleteRefresh(pending => pending.TrySetException(new TokenRefreshRefusedException(code, message))))
                    {
                        return default;
                    }

                    Log.ErrorFrame(_logger, Topic, code, message);
                    return default;

                default:
                    return default;
            }
        }
    }

    /// <summary>Completes the oldest pending refresh (the broker answers them in order); false if none was pending.</summary>
    private bool CompleteRefresh(Action<TaskCompletionSource<TokenRefreshAnswer>> complete)
    {
        TaskCompletionSource<TokenRefreshAnswer>? pending;
        lock (_lock)
        {
            _pendingRefreshes.TryDequeue(out pending);
        }

        if (pending is null)
        {
            return false;
        }

        complete(pending);
        return true;
    }

    private async Task SendPongAsync(ClientWebSocket socket, JsonElement data, CancellationToken cancellationToken)
    {
        var pong = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(pong))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "pong");
            if (data.ValueKind != JsonValueKind.Undefined)
            {
                writer.WritePropertyName("data");
                data.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        try
        {
            await SendAsync(socket, pong.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException)
        {
            // The receive that follows sees the broken connection and ends it.
        }
    }

    private async Task SendAsync(ClientWebSocket socket, ReadOnlyMemory<byte> utf8, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await socket.SendAsync(utf8, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Forgets the socket, fails the refreshes still waiting on it, and closes it.</summary>
    private void DetachSocket(ClientWebSocket socket)
    {
        List<TaskCompletionSource<TokenRefreshAnswer>> failed;
        lock (_lock)
        {
            if (_socket == socket)
            {
                _socket = null;
            }

            failed = [.. _pendingRefreshes];
            _pendingRefreshes.Clear();
        }

        foreach (var pending in failed)
        {
            pending.TrySetException(new TokenRefreshRefusedException("not_connected", "the connection closed before the broker answered"));
        }

        // Abort rather than a close handshake: the broker's close has been seen already, or the
        // connection is presumed dead, or the consumer stopped enumerating.
        socket.Abort();
        socket.Dispose();
    }

    private void SetStatus(TopicConnectionStatus status)
    {
        if (Status == status)
        {
            return;
        }

        Status = status;
        StatusChanged?.Invoke(this, status);
    }

    private static Uri WithSince(Uri uri, long since)
    {
        var builder = new UriBuilder(uri);
        var query = builder.Query.TrimStart('?');
        var kept = query.Split('&', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("since=", StringComparison.Ordinal));
        builder.Query = string.Join('&', kept.Append(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"since={since}")));
        return builder.Uri;
    }

    private readonly record struct Received(string? Ending);

    private readonly record struct FrameOutcome(TopicEvent? Event, ShutdownNotice? Shutdown);
}
