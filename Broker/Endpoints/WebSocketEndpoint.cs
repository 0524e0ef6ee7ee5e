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

        // Refusals that must happen before the upgrade, as HTTP statuses: a page from a foreign
        // origin, and a missing or bad token. Neither learns anything about the topic.
        if (!origins.IsAllowed(context.Request))
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status403Forbidden, ErrorCodes.OriginNotAllowed, "This page's origin may not open WebSockets here.").ConfigureAwait(false);
            return;
        }

        var token = await tokens.ValidateAsync(TokenReader.FromRequest(context.Request)).ConfigureAwait(false);
        if (!token.Ok)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, token.Error!).ConfigureAwait(false);
            return;
        }

        if (!token.Grants!.MaySubscribe(topic))
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, "The token does not allow subscribing to this topic.").ConfigureAwait(false);
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
        await connections.RunAsync(socket, coalescing, topic, ParseSince(context.Request.Query["since"]), context.Connection.RemoteIpAddress, token.ExpiresAt).ConfigureAwait(false);
    }

    /// <summary>A non-negative integer, or null (then the client gets a snapshot; protocol.md "Resume after reconnect").</summary>
    private static long? ParseSince(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var since) ? since : null;
}
