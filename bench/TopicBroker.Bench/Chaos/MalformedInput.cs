using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Bench.Chaos;

/// <summary>
/// Feeds the broker input it must refuse, round robin, while the chaos run goes on: bridge lines
/// that break each rule of protocol.md "TCP bridge" (each must get its documented error, never
/// <c>ok:true</c>), a partial last line, WebSocket messages that are not JSON or not allowed
/// ("Frames") and a binary frame (1003, "Close codes"), HTTP bodies of the wrong type or not JSON
/// ("HTTP API"), and bytes that are not HTTP at all. An answer lost because the broker was
/// stopped meanwhile is counted as interrupted, not as a violation.
/// </summary>
internal sealed class MalformedInput(string topic, BrokerState broker, ChaosCounters counters, ChaosViolations violations, int seed)
{
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(10);
    private readonly Random _random = new(seed);

    public async Task RunAsync(CancellationToken stop)
    {
        Func<CancellationToken, Task<string?>>[] cases = [BridgeLinesAsync, WebSocketMessagesAsync, HttpBodiesAsync, NotHttpAsync];
        var next = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await broker.WaitUntilUpAsync(stop).ConfigureAwait(false);
                var generation = broker.Generation;
                var name = cases[next].Method.Name;
                string? problem;
                try
                {
                    problem = await cases[next](stop).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or SocketException or WebSocketException or HttpRequestException or OperationCanceledException or JsonException && !stop.IsCancellationRequested)
                {
                    problem = $"{ex.GetType().Name}: {ex.Message}";
                }

                next = (next + 1) % cases.Length;
                Interlocked.Increment(ref counters.MalformedSent);
                if (problem is null)
                {
                    Interlocked.Increment(ref counters.MalformedDocumented);
                }
                else if (broker.Generation != generation || !broker.IsUp)
                {
                    Interlocked.Increment(ref counters.MalformedInterrupted);
                }
                else
                {
                    violations.Add(ChaosViolations.Malformed, $"{name}: {problem}");
                }

                // Pacing: one case about every half second.
                await Task.Delay(TimeSpan.FromMilliseconds(300 + _random.Next(400)), stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task<string?> BridgeLinesAsync(CancellationToken stop)
    {
        (string Line, string Error)[] lines =
        [
            ("not json", "invalid_json"),
            ("[1,2,3]", "invalid_json"),
            ($$"""{"topic":"{{topic}}","id":"m-1","data":5}""", "invalid_data"),
            ("""{"topic":"no-such-topic","id":"m-1","data":{}}""", "unknown_topic"),
            ("{\"topic\":\"" + topic + "\",\"id\":\"\",\"data\":{}}", "invalid_id"),
            ("{\"topic\":\"" + topic + "\",\"id\":\"m-1\",\"op\":\"zap\",\"data\":{}}", "invalid_op"),
            ("{\"topic\":\"" + topic + "\",\"id\":\"m-1\",\"data\":{\"pad\":\"" + new string('x', 70_000) + "\"}}", "too_large"),
        ];
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(s_answerTimeout);
        await socket.ConnectAsync(broker.Target.BridgeEndPoint, timeout.Token).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var payload = Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l.Line + "\n")));
        await stream.WriteAsync(payload, timeout.Token).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8, false, 4096, leaveOpen: true);
        foreach (var (line, error) in lines)
        {
            var answer = await reader.ReadLineAsync(timeout.Token).ConfigureAwait(false);
            if (answer is null)
            {
                return $"the bridge closed before answering '{Shorten(line)}'";
            }

            using var document = JsonDocument.Parse(answer);
            var root = document.RootElement;
            if (root.GetProperty("ok").GetBoolean())
            {
                return $"the malformed line '{Shorten(line)}' was accepted: {answer}";
            }

            if (root.GetProperty("error").GetString() != error)
            {
                return $"'{Shorten(line)}' answered {answer}, expected error {error}";
            }
        }

        // A partial last line, then the connection ends: it must be dropped (protocol.md "TCP bridge").
        await stream.WriteAsync(Encoding.UTF8.GetBytes($$"""{"topic":"{{topic}}","id":"m-partial","da"""), timeout.Token).ConfigureAwait(false);
        return null;
    }

    private async Task<string?> WebSocketMessagesAsync(CancellationToken stop)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(s_answerTimeout);
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws://{broker.Target.HttpBase.Authority}/ws/{topic}"), timeout.Token).ConfigureAwait(false);
        (string Message, string Error)[] messages =
        [
            ("{not json", "invalid_json"),
            ("""{"data":1}""", "missing_type"),
            ("""{"type":"subscribe","data":1}""", "unknown_type"),
        ];
        var buffer = new byte[256 * 1024];
        foreach (var (message, error) in messages)
        {
            await ws.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, timeout.Token).ConfigureAwait(false);
            while (true)
            {
                var (type, text) = await ReceiveAsync(ws, buffer, timeout.Token).ConfigureAwait(false);
                if (type == WebSocketMessageType.Close)
                {
                    return $"closed ({ws.CloseStatus} {ws.CloseStatusDescription}) instead of answering '{message}' with an error frame";
                }

                using var document = JsonDocument.Parse(text);
                if (document.RootElement.GetProperty("type").GetString() != "error")
                {
                    continue;
                }

                var code = document.RootElement.GetProperty("data").GetProperty("code").GetString();
                if (code != error)
                {
                    return $"'{message}' answered with error {code}, expected {error}";
                }

                break;
            }
        }

        await ws.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, endOfMessage: true, timeout.Token).ConfigureAwait(false);
        while (true)
        {
            var (type, _) = await ReceiveAsync(ws, buffer, timeout.Token).ConfigureAwait(false);
            if (type == WebSocketMessageType.Close)
            {
                return ws.CloseStatus == WebSocketCloseStatus.InvalidMessageType ? null : $"a binary frame got close {ws.CloseStatus}, expected 1003";
            }
        }
    }

    private async Task<string?> HttpBodiesAsync(CancellationToken stop)
    {
        using var http = new HttpClient { BaseAddress = broker.Target.HttpBase, Timeout = s_answerTimeout };
        (HttpContent Body, string Path, HttpStatusCode Status, string Error)[] requests =
        [
            (new StringContent("{}", Encoding.UTF8, "text/plain"), $"api/topics/{topic}/entities/m-2", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type"),
            (new StringContent("{not json", Encoding.UTF8, "application/json"), $"api/topics/{topic}/entities/m-2", HttpStatusCode.BadRequest, "invalid_json"),
            (new StringContent("{}", Encoding.UTF8, "application/json"), "api/topics/no-such-topic/entities/m-2", HttpStatusCode.NotFound, "unknown_topic"),
        ];
        foreach (var (body, path, status, error) in requests)
        {
            using (body)
            using (var response = await http.PostAsync(path, body, stop).ConfigureAwait(false))
            {
                var text = await response.Content.ReadAsStringAsync(stop).ConfigureAwait(false);
                if (response.StatusCode != status || !text.Contains($"\"{error}\"", StringComparison.Ordinal))
                {
                    return $"POST {path} answered {(int)response.StatusCode} {Shorten(text)}, expected {(int)status} {error}";
                }
            }
        }

        return null;
    }

    private async Task<string?> NotHttpAsync(CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(s_answerTimeout);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, broker.Target.HttpEndPoint.Port), timeout.Token).ConfigureAwait(false);
        var garbage = new byte[512];
        _random.NextBytes(garbage);
        await socket.SendAsync(garbage.Concat("\r\n\r\n"u8.ToArray()).ToArray(), timeout.Token).ConfigureAwait(false);

        // Kestrel answers 400 and closes, or just closes; either way the connection must end.
        var buffer = new byte[4096];
        while (await socket.ReceiveAsync(buffer, timeout.Token).ConfigureAwait(false) > 0)
        {
        }

        return null;
    }

    private static async Task<(WebSocketMessageType Type, string Text)> ReceiveAsync(ClientWebSocket ws, byte[] buffer, CancellationToken cancellationToken)
    {
        var length = 0;
        ValueWebSocketReceiveResult received;
        do
        {
            received = await ws.ReceiveAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            length += received.Count;
        }
        while (!received.EndOfMessage && length < buffer.Length);

        return (received.MessageType, Encoding.UTF8.GetString(buffer, 0, length));
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
