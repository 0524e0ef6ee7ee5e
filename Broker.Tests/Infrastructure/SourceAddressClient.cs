using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// An HTTP stack whose connections leave from a given loopback source address (127.0.0.2,
/// 127.0.0.3, ...: all of 127/8 is local on Linux), so one test process can be several clients,
/// and which connects every host name to 127.0.0.1, so a URL may carry the name a browser would
/// use (<c>kitchen.test</c>). Use <see cref="Handler"/> for HttpClient and ClientWebSocket alike.
/// </summary>
internal sealed class SourceAddressClient : IDisposable
{
    public SourceAddressClient(IPAddress source, RemoteCertificateValidationCallback? validateServerCertificate = null)
    {
        Source = source;
        Handler = new SocketsHttpHandler
        {
            ConnectCallback = ConnectAsync,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = validateServerCertificate },
        };
    }

    public IPAddress Source { get; }

    public SocketsHttpHandler Handler { get; }

    public HttpMessageInvoker Invoker() => new(Handler, disposeHandler: false);

    public HttpClient HttpClient(Uri baseAddress) => new(Handler, disposeHandler: false) { BaseAddress = baseAddress, Timeout = TaskTimeouts.Default };

    /// <summary>A WebSocket from this client's address; <paramref name="headers"/> are sent with the handshake (Origin, X-Forwarded-For, ...).</summary>
    public async Task<TestWebSocket> ConnectWebSocketAsync(Uri uri, params (string Name, string Value)[] headers)
    {
        var client = new TestWebSocket();
        foreach (var (name, value) in headers)
        {
            client.Socket.Options.SetRequestHeader(name, value);
        }

        await client.ConnectAsync(uri, Invoker()).DefaultTimeout();
        return client;
    }

    public void Dispose() => Handler.Dispose();

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(Source, 0));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
