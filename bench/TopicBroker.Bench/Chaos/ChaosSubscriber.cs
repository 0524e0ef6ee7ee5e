using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;

namespace TopicBroker.Bench.Chaos;

internal enum SubscriberKind
{
    /// <summary>Reads at once; reconnects with <c>since</c> only when the broker goes away.</summary>
    Fast,

    /// <summary>Reads slowly and stalls now and then, so the broker closes it with 1013; resumes with <c>since</c>.</summary>
    Slow,

    /// <summary>Closes its connection itself every few seconds and resumes with <c>since</c>.</summary>
    Resuming,

    /// <summary>Connects without <c>since</c>, checks the snapshot, leaves soon, again and again.</summary>
    Churning,
}

/// <summary>
/// A WebSocket subscriber (System.Net.WebSockets, the real client) that checks every frame
/// against protocol.md: in seq order with no gap and no duplicate within its chain of
/// connections (resumes with <c>?since=</c> continue the chain; "Resume after reconnect"), a
/// snapshot only where the protocol sends one, snapshots holding every change acked before the
/// connect, one seq never meaning two changes, and a <c>shutdown</c> frame's <c>resumeFrom</c>
/// no newer than what was delivered before it.
/// </summary>
internal sealed class ChaosSubscriber(
    string name,
    SubscriberKind kind,
    TopicLedger ledger,
    BrokerState broker,
    int replayLimit,
    int seed,
    ChaosCounters counters,
    ChaosViolations violations)
{
    private readonly Random _random = new(seed);
    private long _lastSeq = -1;
    private volatile bool _catchUp;

    public string Name { get; } = name;

    public SubscriberKind Kind => kind;

    public TopicLedger Ledger => ledger;

    /// <summary>The newest seq this subscriber's chain has applied; -1 before the first snapshot.</summary>
    public long LastSeq => Interlocked.Read(ref _lastSeq);

    /// <summary>From now on a slow subscriber reads at full speed, so the drain at the end can wait for it.</summary>
    public void CatchUp() => _catchUp = true;

    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await broker.WaitUntilUpAsync(stop).ConfigureAwait(false);
                await RunSessionAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or SocketException or HttpRequestException or OperationCanceledException or ObjectDisposedException)
            {
                // The broker went away mid-session or refused the connect; resume once it is back.
                counters.Closed("connection lost");
            }

            await Task.Delay(kind == SubscriberKind.Churning ? 100 : 50, stop).ConfigureAwait(false);
        }
    }

    private async Task RunSessionAsync(CancellationToken stop)
    {
        var since = kind == SubscriberKind.Churning ? -1 : LastSeq;
        if (kind == SubscriberKind.Churning)
        {
            Interlocked.Exchange(ref _lastSeq, -1);
        }

        // What a snapshot must hold: every change acked before the connect began.
        var ackedBefore = ledger.MaxAckedSeq;
        var upsertsBefore = ledger.LastUpserts();
        var target = broker.Target;
        var uri = new Uri($"ws://{target.HttpBase.Authority}/ws/{ledger.Topic}" + (since >= 0 ? string.Create(CultureInfo.InvariantCulture, $"?since={since}") : string.Empty));

        using var handler = new SocketsHttpHandler { UseProxy = false, ConnectCallback = ConnectAsync };
        using var invoker = new HttpMessageInvoker(handler);
        using var ws = new ClientWebSocket();
        using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
        {
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                await ws.ConnectAsync(uri, invoker, connectTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or HttpRequestException or OperationCanceledException && !stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref counters.ConnectFailures);
                return;
            }
        }

        Interlocked.Increment(ref counters.Connects);
        if (since >= 0)
        {
            Interlocked.Increment(ref counters.Resumes);
        }

        var sessionLength = kind switch
        {
            SubscriberKind.Resuming => TimeSpan.FromSeconds(2 + _random.NextDouble() * 3),
            SubscriberKind.Churning => TimeSpan.FromSeconds(_random.NextDouble()),
            _ => Timeout.InfiniteTimeSpan,
        };
        using var session = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var leaveAt = sessionLength == Timeout.InfiniteTimeSpan ? long.MaxValue : Measurement.MonotonicClock.Now + Measurement.MonotonicClock.FromSeconds(sessionLength.TotalSeconds);
        var nextStall = Measurement.MonotonicClock.Now + Measurement.MonotonicClock.FromSeconds(1 + _random.NextDouble() * 3);
        var buffer = new byte[64 * 1024];
        var first = true;
        while (!stop.IsCancellationRequested)
        {
            if (Measurement.MonotonicClock.Now >= leaveAt && !first)
            {
                await LeaveAsync(ws).ConfigureAwait(false);
                return;
            }

            var length = 0;
            ValueWebSocketReceiveResult received;
            do
            {
                if (length == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                received = await ws.ReceiveAsync(buffer.AsMemory(length), stop).ConfigureAwait(false);
                length += received.Count;
            }
            while (!received.EndOfMessage && received.MessageType != WebSocketMessageType.Close);

            if (received.MessageType == WebSocketMessageType.Close)
            {
                counters.Closed(ws.CloseStatus is { } status ? $"{(int)status} {ws.CloseStatusDescription}".Trim() : "close");
                return;
            }

            HandleFrame(buffer.AsMemory(0, length), since, first, ackedBefore, upsertsBefore);
            first = false;

            if (kind == SubscriberKind.Slow && !_catchUp)
            {
                // A slow screen: 50 frames/s at most, and now and then a stall of a few seconds,
                // long enough to overflow the broker's send queue (Broker:SendQueueCapacity).
                var now = Measurement.MonotonicClock.Now;
                if (now >= nextStall)
                {
                    nextStall = now + Measurement.MonotonicClock.FromSeconds(4 + _random.NextDouble() * 4);
                    await Task.Delay(TimeSpan.FromSeconds(4 + _random.NextDouble() * 6), stop).ConfigureAwait(false);
                }
                else
                {
                    await Task.Delay(20, stop).ConfigureAwait(false);
                }
            }
        }
    }

    private void HandleFrame(ReadOnlyMemory<byte> frame, long since, bool first, long ackedBefore, Dictionary<string, AckedChange>? upsertsBefore)
    {
        using var document = JsonDocument.Parse(frame);
        var root = document.RootElement;
        var type = root.GetProperty("type").GetString();
        switch (type)
        {
            case "snapshot":
                HandleSnapshot(root, since, first, ackedBefore, upsertsBefore);
                break;
            case "update":
                HandleUpdate(root, since, first);
                break;
            case "shutdown":
                Interlocked.Increment(ref counters.ShutdownFrames);
                var resumeFrom = root.GetProperty("data").GetProperty("resumeFrom").GetInt64();
                if (resumeFrom > LastSeq)
                {
                    violations.Add(ChaosViolations.Shutdown, $"{Name} on {ledger.Topic}: shutdown says resumeFrom {resumeFrom}, but only seq {LastSeq} was delivered before it");
                }

                break;
            case "error":
                Interlocked.Increment(ref counters.ErrorFrames);
                break;
        }
    }

    private void HandleSnapshot(JsonElement root, long since, bool first, long ackedBefore, Dictionary<string, AckedChange>? upsertsBefore)
    {
        var seq = root.GetProperty("seq").GetInt64();
        var last = LastSeq;
        if (!first)
        {
            // Chaos topics are not in Broker:RebroadcastTopics, so no snapshot comes mid-stream.
            violations.Add(ChaosViolations.Snapshot, $"{Name} on {ledger.Topic}: a snapshot at seq {seq} in the middle of a connection (after seq {last})");
        }
        else if (since < 0)
        {
            Interlocked.Increment(ref counters.FreshSnapshots);
            if (seq < ackedBefore)
            {
                violations.Add(ChaosViolations.Snapshot, $"{Name} on {ledger.Topic}: snapshot at seq {seq} is older than seq {ackedBefore}, acked before the connect");
            }
        }
        else if (seq < since)
        {
            violations.Add(ChaosViolations.Durable, $"{Name} on {ledger.Topic}: resumed with since={since} and got a snapshot at seq {seq}: seqs {seq + 1}..{since} were delivered but the broker no longer has them");
        }
        else if (seq - since <= replayLimit)
        {
            violations.Add(ChaosViolations.Snapshot, $"{Name} on {ledger.Topic}: resumed with since={since} and got a snapshot at seq {seq}, though only {seq - since} changes were missed (the broker replays up to {replayLimit})");
        }
        else
        {
            Interlocked.Increment(ref counters.SnapshotResets);
        }

        if (upsertsBefore is not null)
        {
            var data = root.GetProperty("data");
            foreach (var (id, acked) in upsertsBefore)
            {
                if (acked.Seq > seq)
                {
                    continue;
                }

                if (!data.TryGetProperty(id, out var entity))
                {
                    violations.Add(ChaosViolations.Snapshot, $"{Name} on {ledger.Topic}: snapshot at seq {seq} lacks {id}, acked (n={acked.N}) at seq {acked.Seq}");
                }
                else if (entity.GetProperty("n").GetInt64() < acked.N)
                {
                    violations.Add(ChaosViolations.Snapshot, $"{Name} on {ledger.Topic}: snapshot at seq {seq} has {id} n={entity.GetProperty("n").GetInt64()}, older than n={acked.N} acked at seq {acked.Seq}");
                }
            }
        }

        Interlocked.Exchange(ref _lastSeq, seq);
    }

    private void HandleUpdate(JsonElement root, long since, bool first)
    {
        var seq = root.GetProperty("seq").GetInt64();
        var id = root.GetProperty("id").GetString()!;
        var delete = root.GetProperty("op").GetString() == "delete";
        var n = delete ? 0 : root.GetProperty("data").TryGetProperty("n", out var counter) ? counter.GetInt64() : -1;
        Interlocked.Increment(ref counters.FramesChecked);
        var last = LastSeq;
        if (first && since < 0)
        {
            violations.Add(ChaosViolations.Snapshot, $"{Name} on {ledger.Topic}: the first frame without since was update seq {seq}, not a snapshot");
        }
        else if (last >= 0 && seq != last + 1)
        {
            violations.Add(
                ChaosViolations.Order,
                seq <= last
                    ? $"{Name} on {ledger.Topic}: seq {seq} ({ChaosPublishers.Describe(id, n, delete)}) after seq {last}: a duplicate or out of order"
                    : $"{Name} on {ledger.Topic}: seq {seq} after seq {last}: seqs {last + 1}..{seq - 1} never arrived");
        }

        var change = new DeliveredChange(id, n, delete);
        if (ledger.TryGetAcked(seq, out var acked) && (acked.Id != id || acked.N != n || acked.Delete != delete))
        {
            violations.Add(ChaosViolations.SeqIdentity, $"{ledger.Topic} seq {seq}: delivered to {Name} as {ChaosPublishers.Describe(id, n, delete)} but acked for {ChaosPublishers.Describe(acked.Id, acked.N, acked.Delete)}");
        }

        if (!ledger.TryAddDelivered(seq, change, out var firstDelivery))
        {
            violations.Add(ChaosViolations.SeqIdentity, $"{ledger.Topic} seq {seq}: delivered to {Name} as {ChaosPublishers.Describe(id, n, delete)}, earlier as {ChaosPublishers.Describe(firstDelivery.Id, firstDelivery.N, firstDelivery.Delete)}");
        }

        if (seq > last)
        {
            Interlocked.Exchange(ref _lastSeq, seq);
        }
    }

    private static async Task LeaveAsync(ClientWebSocket ws)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            ws.Abort();
        }
    }

    /// <summary>A slow subscriber's socket gets a small receive buffer, so its stalls reach the broker's send queue quickly.</summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (kind == SubscriberKind.Slow)
        {
            socket.ReceiveBufferSize = 4096;
        }

        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
