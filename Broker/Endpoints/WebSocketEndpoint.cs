using System.Globalization;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Http.Features;
using TopicBroker.Connections;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;

namespace TopicBroker.Endpoints;

/// <summary><c>GET /ws/{topic}[?since=N][&amp;access_token=JWT]</c>: protocol.md "WebSocket: `/ws/{topic}`" and "Security".</summary>
internal static class WebSocketEndpoint
{
    public static IEndpointRouteBuilder MapTopicWebSockets(this IEndpointRouteBuilder endpoints)
    {
        // A client that escapes the topic (encodeURIComponent) sends a site topic's '/' as %2F,
        // the one escape the server leaves in route values.
        endpoints.Map("/ws/{topic}", (HttpContext context, string topic, ConnectionManager connections, OriginPolicy origins, TokenValidator tokens) =>
            HandleAsync(context, topic.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase), connections, origins, tokens));
        // Site topics (protocol.md "Sites and upstream replication"); unknown ones close with 1003 as any other.
        endpoints.Map("/ws/{site}/{topic}", (HttpContext context, string site, string topic, ConnectionManager connections, OriginPolicy origins, TokenValidator tokens) =>
            HandleAsync(context, site + "/" + topic, connections, origins, tokens));
        return endpoints;
    }

    private static async Task HandleAsync(
        HttpContext context, string topic, ConnectionManager connections, OriginPolicy origins, TokenValidator tokens)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("This endpoint speaks WebSocket only; see protocol.md, section WebSocket.").ConfigureAwait(false);
            return;
        }

        var check = await CheckBeforeUpgradeAsync(
            topic, context.Request.Headers.Origin.ToString(), context.Request.Host.Value, TokenReader.FromRequest(context.Request), origins, tokens).ConfigureAwait(false);
        if (check.Refusal is { } refusal)
        {
            await JsonAnswers.WriteErrorAsync(context, refusal.Status, refusal.Code, refusal.Message).ConfigureAwait(false);
            return;
        }

        // Unknown topics and full topics are accepted and then closed with a code (1003, 1008),
        // because a browser's WebSocket API shows close codes but never HTTP statuses.
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            // Keep-alive is the broker's own ping frame (one timer for all connections).
            KeepAliveInterval = TimeSpan.Zero,
        }).ConfigureAwait(false);
        var coalescing = (context.Features.Get<IHttpUpgradeFeature>() as CoalescingUpgradeFeature)?.Stream;
        await connections.RunAsync(socket, coalescing, topic, ParseSince(context.Request.Query["since"]), context.Connection.RemoteIpAddress, check.ExpiresAt).ConfigureAwait(false);
    }

    /// <summary>
    /// The refusals that must happen before the upgrade, as HTTP statuses (protocol.md "WebSocket:
    /// `/ws/{topic}`"): a page from a foreign origin, and a missing or bad token. Neither learns
    /// anything about the topic. Shared by this endpoint and the upgrade below HTTP
    /// (<see cref="WebSocketUpgradeMiddleware"/>), which hands a refused request on to this endpoint.
    /// </summary>
    internal static async Task<UpgradeCheck> CheckBeforeUpgradeAsync(
        string topic, string? origin, string? host, string? token, OriginPolicy origins, TokenValidator tokens)
    {
        if (!origins.IsAllowed(origin, host))
        {
            return new UpgradeCheck(new UpgradeRefusal(StatusCodes.Status403Forbidden, ErrorCodes.OriginNotAllowed, "This page's origin may not open WebSockets here."), default);
        }

        var check = await tokens.ValidateAsync(token).ConfigureAwait(false);
        if (!check.Ok)
        {
            return new UpgradeCheck(new UpgradeRefusal(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, check.Error!), default);
        }

        if (!check.Grants!.MaySubscribe(topic))
        {
            return new UpgradeCheck(new UpgradeRefusal(StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, "The token does not allow subscribing to this topic."), default);
        }

        return new UpgradeCheck(null, check.ExpiresAt);
    }

    /// <summary>A non-negative integer, or null (then the client gets a snapshot; protocol.md "Resume after reconnect").</summary>
    internal static long? ParseSince(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var since) ? since : null;
}

/// <summary>An HTTP refusal before the upgrade: status, error code and message of protocol.md "TCP bridge"'s error object.</summary>
internal readonly record struct UpgradeRefusal(int Status, string Code, string Message);

/// <summary>Either a refusal, or the token's expiry for an upgrade that may go ahead.</summary>
internal readonly record struct UpgradeCheck(UpgradeRefusal? Refusal, DateTimeOffset ExpiresAt);
