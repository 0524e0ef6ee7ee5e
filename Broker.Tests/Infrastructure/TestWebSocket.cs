using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>A real <see cref="ClientWebSocket"/> with frame-level helpers; every receive is bounded by a timeout.</summary>
internal sealed class TestWebSocket : IAsyncDisposable
{
    private readonly byte[] _buffer = new byte[1024 * 1024];

    public ClientWebSocket Socket { get; } = new();

    public WebSocketCloseStatus? CloseStatus => Socket.CloseStatus;

    public string? CloseDescription => Socket.CloseStatusDescription;

    /// <param name="invoker">The HTTP stack to connect through (for example one that binds a source address); the default one when null.</param>
    public async Task ConnectAsync(Uri uri, HttpMessageInvoker? invoker = null)
    {
        Socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await Socket.ConnectAsync(uri, invoker, CancellationToken.None);
    }

    /// <summary>The next text message as JSON; fails if the server closes instead.</summary>
    public async Task<JsonElement> ReceiveFrameAsync(TimeSpan? timeout = null)
    {
        var message = await ReceiveMessageAsync(timeout);
        Assert.That(message, Is.Not.Null, $"expected a frame, but the server closed with {CloseStatus} '{CloseDescription}'");
        return JsonDocument.Parse(message!).RootElement.Clone();
    }

    /// <summary>The next frame of the given type, skipping pings and others in between.</summary>
    public async Task<JsonElement> ReceiveFrameAsync(string type, TimeSpan? timeout = null)
    {
        while (true)
        {
            var frame = await ReceiveFrameAsync(timeout);
            if (frame.GetProperty("type").GetString() == type)
            {
                return frame;
            }
        }
    }

    /// <summary>The next text message, or null when a close frame arrives.</summary>
    public async Task<string?> ReceiveMessageAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TaskTimeouts.Default);
        var count = 0;
        while (true)
        {
            var result = await Socket.ReceiveAsync(_buffer.AsMemory(count), cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                // Answer the close at once, as browsers do.
                await AnswerCloseAsync();
                return null;
            }

            count += result.Count;
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(_buffer, 0, count);
            }
        }
    }

    /// <summary>Reads (and counts) messages until the server's close frame; returns the close status.</summary>
    public async Task<(WebSocketCloseStatus? Status, string? Reason, int MessagesBefore)> ReceiveUntilCloseAsync(TimeSpan? timeout = null)
    {
        var messages = 0;
        while (await ReceiveMessageAsync(timeout) is not null)
        {
            messages++;
        }

        return (CloseStatus, CloseDescription, messages);
    }

    public Task SendTextAsync(string text) =>
        Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None).DefaultTimeout();

    public Task SendJsonAsync(object value) => SendTextAsync(JsonSerializer.Serialize(value));

    private async Task AnswerCloseAsync()
    {
        if (Socket.State == WebSocketState.CloseReceived)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await Socket.CloseOutputAsync(Socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
            catch (WebSocketException)
            {
                // The server may drop the connection right after its close frame (1007); the
                // close it sent is what the test looks at.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "test done", cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }

        Socket.Dispose();
    }
}
