using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using TopicBroker.Connections;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;

namespace TopicBroker.Endpoints;

/// <summary>
/// The WebSocket upgrade below HTTP (docs/operations.md "Configuration", <c>Broker:WebSocket:RawUpgrade</c>):
/// a Kestrel connection middleware that looks at a connection's first bytes without taking them.
/// A plain <c>GET /ws/{topic}</c> upgrade (<see cref="WebSocketHandshake"/>) that passes the same
/// checks as <see cref="WebSocketEndpoint"/> is answered here with the 101 and run by the same
/// <see cref="ConnectionManager"/> code over the raw transport, so no HTTP/1.1 connection,
/// request, HttpContext or request logging state stays alive under it. Every other request, and
/// every upgrade the broker would refuse before upgrading, goes on to HTTP as it arrived, where
/// the endpoint gives the same answers it always did.
/// </summary>
internal sealed partial class WebSocketUpgradeMiddleware
{
    private static readonly byte[] s_requestTimeout = Encoding.ASCII.GetBytes(
        "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

    private readonly ConnectionDelegate _next;
    private readonly ConnectionManager _connections;
    private readonly OriginPolicy _origins;
    private readonly TokenValidator _tokens;
    private readonly ForwardedClientResolver _forwarded;
    private readonly KestrelServerLimits _limits;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<WebSocketUpgradeMiddleware> _logger;

    private WebSocketUpgradeMiddleware(ConnectionDelegate next, IServiceProvider services)
    {
        _next = next;
        _connections = services.GetRequiredService<ConnectionManager>();
        _origins = services.GetRequiredService<OriginPolicy>();
        _tokens = services.GetRequiredService<TokenValidator>();
        _forwarded = new ForwardedClientResolver(services.GetRequiredService<IOptions<TrustedProxyOptions>>().Value);
        _limits = services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits;
        _timeProvider = services.GetRequiredService<TimeProvider>();
        _logger = services.GetRequiredService<ILogger<WebSocketUpgradeMiddleware>>();
    }

    /// <summary>
    /// Puts the middleware on every endpoint Kestrel listens on: first on plain ones, after TLS on
    /// https endpoints from configuration (so wss is upgraded below HTTP too). An https endpoint
    /// with SNI settings, or one bound another way, keeps the upgrade inside HTTP.
    /// </summary>
    public static void Install(KestrelServerOptions kestrel)
    {
        // Endpoint defaults apply before the configuration loader adds TLS, so an https endpoint
        // whose TLS this method sets up gets the middleware inside TLS instead (the factories run
        // when Kestrel binds, after both callbacks). On any other TLS endpoint the outer one sees
        // a TLS handshake, which is not a request, and hands it on.
        var insideTls = new HashSet<ListenOptions>();
        kestrel.ConfigureEndpointDefaults(listen =>
            listen.Use(next => insideTls.Contains(listen) ? next : new WebSocketUpgradeMiddleware(next, listen.ApplicationServices).OnConnectionAsync));
        if (kestrel.ConfigurationLoader is not { } loader)
        {
            return;
        }

        foreach (var endpoint in loader.Configuration.GetSection("Endpoints").GetChildren())
        {
            if (endpoint.GetSection("Sni").Exists())
            {
                continue;
            }

            loader.Endpoint(endpoint.Key, configured =>
            {
                var https = configured.HttpsOptions;
                if (configured.IsHttps && (https.ServerCertificate is not null || https.ServerCertificateSelector is not null))
                {
                    // What the loader would do next (UseHttps with these options), then this middleware inside TLS.
                    var listen = configured.ListenOptions;
                    insideTls.Add(listen);
                    listen.UseHttps(https);
                    listen.Use(next => new WebSocketUpgradeMiddleware(next, listen.ApplicationServices).OnConnectionAsync);
                }
            });
        }
    }

    private async Task OnConnectionAsync(ConnectionContext connection)
    {
        // Only what the connection's life needs is kept across this await: the handshake's state
        // (its bytes, strings, deadline) belongs to UpgradeAsync, which has finished by then.
        if (await UpgradeAsync(connection).ConfigureAwait(false) is not { } upgraded)
        {
            return;
        }

        using var socket = upgraded.Socket;
        await _connections.RunAsync(socket, upgraded.Stream, upgraded.Topic, upgraded.Since, upgraded.Client, upgraded.ExpiresAt).ConfigureAwait(false);
    }

    /// <summary>Reads the request head and either upgrades (the result) or hands on to HTTP and returns null when HTTP is done.</summary>
    private async Task<Upgraded?> UpgradeAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        ReadResult read;
        HandshakeParse parse;
        WebSocketHandshake? handshake;

        // Kestrel's own deadlines for a request head: KeepAliveTimeout until the first byte,
        // then RequestHeadersTimeout (Broker:HandshakeTimeout) for the rest.
        // A graceful server stop ends a connection still waiting for its head, as it ends an HTTP
        // connection between requests (else Kestrel would wait for it until the shutdown timeout).
        var closing = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(closing))
        {
            deadline.CancelAfter(Bounded(_limits.KeepAliveTimeout));
            var started = false;
            try
            {
                while (true)
                {
                    read = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                    parse = WebSocketHandshake.TryParse(read.Buffer, out handshake);
                    if (parse != HandshakeParse.NeedMore || read.IsCompleted)
                    {
                        break;
                    }

                    input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                    if (!started)
                    {
                        started = true;
                        deadline.CancelAfter(Bounded(_limits.RequestHeadersTimeout));
                    }
                }
            }
            catch (OperationCanceledException)
            {
                if (started && !closing.IsCancellationRequested)
                {
                    await RefuseAsTimedOutAsync(connection).ConfigureAwait(false);
                }

                return null;
            }
            catch (Exception ex) when (ex is IOException or ConnectionResetException)
            {
                Log.HandshakeFailed(_logger, (connection.RemoteEndPoint as IPEndPoint)?.Address, ex.Message);
                return null;
            }
        }

        var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        if (parse != HandshakeParse.Upgrade
            || !_forwarded.TryResolve(remote, handshake!.ForwardedFor, out var client))
        {
            await HandOnAsync(connection, read).ConfigureAwait(false);
            return null;
        }

        var check = await WebSocketEndpoint.CheckBeforeUpgradeAsync(
            handshake.Topic, handshake.Origin, handshake.Host, TokenReader.FromRequest(handshake.Authorization, handshake.AccessToken), _origins, _tokens).ConfigureAwait(false);
        if (check.Refusal is not null)
        {
            // HTTP gives the refusal, exactly as without this middleware.
            await HandOnAsync(connection, read).ConfigureAwait(false);
            return null;
        }

        input.AdvanceTo(read.Buffer.GetPosition(handshake.HeadLength));
        var stream = new CoalescingStream(new TransportStream(connection.Transport));
        try
        {
            handshake.WriteSwitchingProtocols(connection.Transport.Output, _timeProvider.GetUtcNow());
            await connection.Transport.Output.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or OperationCanceledException)
        {
            Log.HandshakeFailed(_logger, client, ex.Message);
            return null;
        }

        Log.Upgraded(_logger, handshake.Topic, client);
        // Keep-alive is the broker's own ping frame (one timer for all connections), as in the endpoint.
        var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        return new Upgraded(socket, stream, handshake.Topic, WebSocketEndpoint.ParseSince(handshake.Since), client, check.ExpiresAt);
    }

    /// <summary>Kestrel takes TimeSpan.MaxValue for "no limit"; a timer takes an infinite span.</summary>
    private static TimeSpan Bounded(TimeSpan timeout) =>
        timeout.TotalMilliseconds >= int.MaxValue ? Timeout.InfiniteTimeSpan : timeout;

    private Task HandOnAsync(ConnectionContext connection, ReadResult read)
    {
        connection.Transport = new HandedOnTransport(new PendingReadPipeReader(connection.Transport.Input, read), connection.Transport.Output);
        return _next(connection);
    }

    private async Task RefuseAsTimedOutAsync(ConnectionContext connection)
    {
        try
        {
            await connection.Transport.Output.WriteAsync(s_requestTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or OperationCanceledException)
        {
            Log.HandshakeFailed(_logger, (connection.RemoteEndPoint as IPEndPoint)?.Address, ex.Message);
        }
    }

    private readonly record struct Upgraded(WebSocket Socket, CoalescingStream Stream, string Topic, long? Since, IPAddress? Client, DateTimeOffset ExpiresAt);

    private sealed class HandedOnTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
