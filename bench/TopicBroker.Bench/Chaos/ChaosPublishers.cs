using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using TopicBroker.Bench.Measurement;

namespace TopicBroker.Bench.Chaos;

/// <summary>
/// The chaos run's writers. Each publisher owns its ids: <c>&lt;name&gt;-k</c> are only ever
/// upserted (their newest acked data must be in every later snapshot and in the store), and
/// <c>&lt;name&gt;-del-k</c> are upserted and deleted in turn. Every upsert's data carries a
/// per-publisher counter <c>n</c>, so an id's <c>n</c> only grows.
/// </summary>
internal static class ChaosPublishers
{
    private const int UpsertOnlyIds = 40;
    private const int DeletableIds = 5;

    public static bool IsNeverDeleted(string id) => !id.Contains("-del-", StringComparison.Ordinal);

    /// <summary>The next change of a publisher: which topic, which id, upsert or delete.</summary>
    internal sealed class ChangeSource(string name, int topics, int seed)
    {
        private readonly Random _random = new(seed);
        private readonly bool[] _deleted = new bool[DeletableIds];
        private long _n;

        public (int Topic, string Id, long N, bool Delete) Next()
        {
            var n = ++_n;
            var topic = (int)(n % topics);
            if (_random.Next(10) == 0)
            {
                var k = _random.Next(DeletableIds);
                var delete = !_deleted[k];
                _deleted[k] = delete;
                return (topic, string.Create(CultureInfo.InvariantCulture, $"{name}-del-{k}"), n, delete);
            }

            return (topic, string.Create(CultureInfo.InvariantCulture, $"{name}-{_random.Next(UpsertOnlyIds)}"), n, false);
        }

        /// <summary>About 300 bytes a frame, so a stalled subscriber's backlog outgrows the kernel's socket buffers.</summary>
        private static readonly string s_pad = new('x', 200);

        public static string Data(string name, long n) => string.Create(CultureInfo.InvariantCulture, $$"""{"p":"{{name}}","n":{{n}},"pad":"{{s_pad}}"}""");
    }

    /// <summary>Records an ack in the ledger and checks it against what subscribers already received under that seq.</summary>
    public static void RecordAck(TopicLedger ledger, AckedChange change, ChaosViolations violations)
    {
        // A delete carries no data, so no n: it is 0 on both sides of the comparison.
        change = change with { N = change.Delete ? 0 : change.N };
        if (!ledger.TryAddAcked(change, out var existing))
        {
            violations.Add(ChaosViolations.SeqIdentity, $"{ledger.Topic} seq {change.Seq}: acked for {Describe(change.Id, change.N, change.Delete)} and earlier for {Describe(existing.Id, existing.N, existing.Delete)}");
            return;
        }

        if (ledger.TryGetDelivered(change.Seq, out var delivered) && delivered != new DeliveredChange(change.Id, change.N, change.Delete))
        {
            violations.Add(ChaosViolations.SeqIdentity, $"{ledger.Topic} seq {change.Seq}: acked for {Describe(change.Id, change.N, change.Delete)} but delivered as {Describe(delivered.Id, delivered.N, delivered.Delete)}");
        }
    }

    public static string Describe(string id, long n, bool delete) => delete ? $"delete {id}" : $"{id} n={n}";
}

/// <summary>
/// A pipelined TCP bridge publisher (protocol.md "TCP bridge") at a fixed rate with a bounded
/// number of unanswered lines; answers come in order, so each answer belongs to the oldest line
/// in flight. When the broker goes away the lines in flight have an unknown fate (committed or
/// not); they are counted, not resent, and the publisher reconnects once the broker is back.
/// </summary>
internal sealed class BridgePublisher(
    string name,
    BrokerState broker,
    IReadOnlyList<TopicLedger> ledgers,
    double rate,
    int seed,
    ChaosCounters counters,
    ChaosViolations violations)
{
    private const int MaxInFlight = 256;
    private readonly ChaosPublishers.ChangeSource _changes = new(name, ledgers.Count, seed);

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
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                // The broker went away; wait for it and reconnect.
            }

            await Task.Delay(50, stop).ConfigureAwait(false);
        }
    }

    private async Task RunSessionAsync(CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(broker.Target.BridgeEndPoint, stop).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var pending = new ConcurrentQueue<(int Topic, string Id, long N, bool Delete)>();
        using var session = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var reader = ReadAnswersAsync(stream, pending, session.Token);
        try
        {
            var last = MonotonicClock.Now;
            double due = 0;
            var batch = new StringBuilder();
            while (!session.IsCancellationRequested && !reader.IsCompleted)
            {
                // Pacing of the generated load, not a wait for an event.
                await Task.Delay(10, session.Token).ConfigureAwait(false);
                var now = MonotonicClock.Now;
                due = Math.Min(due + rate * MonotonicClock.ToSeconds(now - last), rate);
                last = now;
                batch.Clear();
                while (due >= 1 && pending.Count < MaxInFlight)
                {
                    due--;
                    var change = _changes.Next();
                    var topic = ledgers[change.Topic].Topic;
                    batch.Append(change.Delete
                        ? $$"""{"topic":"{{topic}}","id":"{{change.Id}}","op":"delete"}"""
                        : $$"""{"topic":"{{topic}}","id":"{{change.Id}}","data":{{ChaosPublishers.ChangeSource.Data(name, change.N)}}}""");
                    batch.Append('\n');
                    pending.Enqueue(change);
                }

                if (batch.Length > 0)
                {
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(batch.ToString()), session.Token).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            await session.CancelAsync().ConfigureAwait(false);
            socket.Dispose();
            try
            {
                await reader.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
            }

            Interlocked.Add(ref counters.Unanswered, pending.Count);
        }
    }

    private async Task ReadAnswersAsync(Stream stream, ConcurrentQueue<(int Topic, string Id, long N, bool Delete)> pending, CancellationToken cancellationToken)
    {
        using var lines = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 16 * 1024, leaveOpen: true);
        while (await lines.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (!pending.TryDequeue(out var change))
            {
                violations.Add(ChaosViolations.Malformed, $"bridge publisher {name}: an answer for no line: {line}");
                continue;
            }

            JsonDocument answer;
            try
            {
                answer = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                violations.Add(ChaosViolations.Malformed, $"bridge publisher {name}: an answer that is not JSON: {line[..Math.Min(line.Length, 200)]}");
                continue;
            }

            using var owned = answer;
            var root = answer.RootElement;
            if (root.GetProperty("ok").GetBoolean())
            {
                Interlocked.Increment(ref counters.AckedBridge);
                ChaosPublishers.RecordAck(ledgers[change.Topic], new AckedChange(root.GetProperty("seq").GetInt64(), change.Id, change.N, change.Delete), violations);
            }
            else
            {
                counters.Rejected(root.TryGetProperty("error", out var error) ? error.GetString() ?? "?" : "?");
            }
        }
    }
}

/// <summary>HTTP publishes (protocol.md "HTTP API") at a fixed rate, one request at a time.</summary>
internal sealed class HttpPublisher(
    string name,
    BrokerState broker,
    IReadOnlyList<TopicLedger> ledgers,
    double rate,
    int seed,
    ChaosCounters counters,
    ChaosViolations violations)
{
    private readonly ChaosPublishers.ChangeSource _changes = new(name, ledgers.Count, seed);

    public async Task RunAsync(CancellationToken stop)
    {
        using var handler = new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.FromSeconds(30), ConnectTimeout = TimeSpan.FromSeconds(2) };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        var interval = TimeSpan.FromSeconds(1 / rate);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await broker.WaitUntilUpAsync(stop).ConfigureAwait(false);
                var change = _changes.Next();
                var ledger = ledgers[change.Topic];
                var uri = new Uri(broker.Target.HttpBase, $"api/topics/{ledger.Topic}/entities/{Uri.EscapeDataString(change.Id)}");
                using var request = new HttpRequestMessage(change.Delete ? HttpMethod.Delete : HttpMethod.Post, uri);
                if (!change.Delete)
                {
                    request.Content = new StringContent(ChaosPublishers.ChangeSource.Data(name, change.N), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
                }

                using var response = await http.SendAsync(request, stop).ConfigureAwait(false);
                var body = await response.Content.ReadAsStringAsync(stop).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    using var answer = JsonDocument.Parse(body);
                    Interlocked.Increment(ref counters.AckedHttp);
                    ChaosPublishers.RecordAck(ledger, new AckedChange(answer.RootElement.GetProperty("seq").GetInt64(), change.Id, change.N, change.Delete), violations);
                }
                else
                {
                    counters.Rejected($"http {(int)response.StatusCode}");
                }

                // Pacing of the generated load, not a wait for an event.
                await Task.Delay(interval, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or JsonException)
            {
                // Lost to a stop: the change may or may not have been committed.
                Interlocked.Increment(ref counters.Unanswered);
                await Task.Delay(50, stop).ConfigureAwait(false);
            }
        }
    }
}
