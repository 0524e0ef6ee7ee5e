using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// A WebSocket client on a bare TCP socket, for what <see cref="System.Net.WebSockets.ClientWebSocket"/>
/// refuses to send: unmasked frames, reserved bits, invalid UTF-8 in a text frame. Reads the
/// server's frames one by one; every read is bounded by a timeout.
/// </summary>
internal sealed class RawWebSocketClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private RawWebSocketClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<RawWebSocketClient> ConnectAsync(int port, string path)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port).DefaultTimeout();
        var client = new RawWebSocketClient(tcp);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await client._stream.WriteAsync(Encoding.ASCII.GetBytes(request)).AsTask().DefaultTimeout();
        var head = await client.ReadHeadAsync();
        Assert.That(head, Does.StartWith("HTTP/1.1 101"), head);
        return client;
    }

    /// <summary>One frame: <paramref name="firstByte"/> is FIN, RSV1-3 and the opcode as sent on the wire.</summary>
    public static byte[] Frame(byte firstByte, byte[] payload, bool masked = true)
    {
        var frame = new List<byte> { firstByte };
        var maskBit = masked ? (byte)0x80 : (byte)0;
        if (payload.Length < 126)
        {
            frame.Add((byte)(maskBit | payload.Length));
        }
        else
        {
            frame.Add((byte)(maskBit | 126));
            frame.Add((byte)(payload.Length >> 8));
            frame.Add((byte)payload.Length);
        }

        if (!masked)
        {
            frame.AddRange(payload);
            return [.. frame];
        }

        var mask = RandomNumberGenerator.GetBytes(4);
        frame.AddRange(mask);
        frame.AddRange(payload.Select((b, i) => (byte)(b ^ mask[i % 4])));
        return [.. frame];
    }

    public static byte[] Text(string text) => Frame(0x81, Encoding.UTF8.GetBytes(text));

    public Task SendAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask().DefaultTimeout();

    /// <summary>The next frame from the server: its opcode and payload.</summary>
    public async Task<(int Opcode, byte[] Payload)> ReadFrameAsync()
    {
        var header = await ReadExactlyAsync(2);
        var length = (long)(header[1] & 0x7F);
        if (length == 126)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2));
        }
        else if (length == 127)
        {
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(await ReadExactlyAsync(8));
        }

        Assert.That(header[1] & 0x80, Is.Zero, "a server never masks");
        return (header[0] & 0x0F, await ReadExactlyAsync((int)length));
    }

    /// <summary>
    /// Reads frames until the server's close frame; returns the text messages before it and the
    /// close code. A connection reset or end of stream before the close frame fails the test.
    /// </summary>
    public async Task<(List<string> Messages, int CloseCode, string Reason)> ReadUntilCloseAsync()
    {
        var messages = new List<string>();
        while (true)
        {
            (int opcode, byte[] payload) frame;
            try
            {
                frame = await ReadFrameAsync();
            }
            catch (IOException ex)
            {
                Assert.Fail($"the connection ended without a close frame after {messages.Count} messages: {ex.Message}");
                throw;
            }

            switch (frame.opcode)
            {
                case 0x1:
                    messages.Add(Encoding.UTF8.GetString(frame.payload));
                    break;
                case 0x8:
                    var code = frame.payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(frame.payload) : 1005;
                    return (messages, code, Encoding.UTF8.GetString(frame.payload.AsSpan(Math.Min(2, frame.payload.Length))));
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<string> ReadHeadAsync()
    {
        var head = new List<byte>();
        while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            head.Add((await ReadExactlyAsync(1))[0]);
        }

        return Encoding.ASCII.GetString([.. head]);
    }

    private async Task<byte[]> ReadExactlyAsync(int count)
    {
        var buffer = new byte[count];
        using var timeout = new CancellationTokenSource(TaskTimeouts.Default);
        await _stream.ReadExactlyAsync(buffer, timeout.Token);
        return buffer;
    }
}
