using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>A raw TCP client of the bridge: writes lines, reads answer lines, each read bounded by a timeout.</summary>
internal sealed class TestBridgeClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private TestBridgeClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    public static async Task<TestBridgeClient> ConnectAsync(IPEndPoint endPoint)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(endPoint).DefaultTimeout();
        return new TestBridgeClient(tcp);
    }

    public Task SendLineAsync(string line) => SendRawAsync(Encoding.UTF8.GetBytes(line + "\n"));

    public Task SendRawAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask().DefaultTimeout();

    /// <summary>The next answer line, or null when the broker closed the connection.</summary>
    public async Task<JsonElement?> ReadAnswerAsync(TimeSpan? timeout = null)
    {
        var line = await _reader.ReadLineAsync().DefaultTimeout(timeout);
        return line is null ? null : JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>The next answer, which must be ok; returns its seq.</summary>
    public async Task<long> ReadAckAsync()
    {
        var answer = await ReadAnswerAsync();
        Assert.That(answer, Is.Not.Null, "the broker closed the bridge connection");
        Assert.That(answer!.Value.GetProperty("ok").GetBoolean(), Is.True, answer.Value.GetRawText());
        return answer.Value.GetProperty("seq").GetInt64();
    }

    public async Task<long> PublishAsync(string line)
    {
        await SendLineAsync(line);
        return await ReadAckAsync();
    }

    /// <summary>Publishes the lines one at a time, each acked before the next; returns the last ack's seq (0 for none).</summary>
    public async Task<long> PublishEachAsync(IEnumerable<string> lines)
    {
        var seq = 0L;
        foreach (var line in lines)
        {
            seq = await PublishAsync(line);
        }

        return seq;
    }

    public void Abort()
    {
        _tcp.Client.LingerState = new LingerOption(true, 0);
        _tcp.Close();
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
