using System.Globalization;
using System.Net.WebSockets;
using TopicBroker.Connections;

namespace TopicBroker.Endpoints;

/// <summary><c>GET /ws/{topic}[?since=N]</c>: protocol.md section 2.</summary>
internal static class WebSocketEndpoint
{
    public static IEndpointRouteBuilder MapTopicWebSockets(this IEndpointRouteBuilder endpoints)
    {
        endpoints.Map("/ws/{topic}", HandleAsync);
        return endpoints;
    }

    private static async Task HandleAsync(HttpContext context, string topic, ConnectionManager connections)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("This endpoint speaks WebSocket only; see protocol.md section 2.").ConfigureAwait(false);
            return;
        }

        // Unknown topics and full topics are accepted and then closed with a code (1003, 1008),
        // because a browser's WebSocket API shows close codes but never HTTP statuses.
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            // Keep-alive is the broker's own ping frame (one timer for all connections).
            KeepAliveInterval = TimeSpan.Zero,
        }).ConfigureAwait(false);
        await connections.RunAsync(socket, topic, ParseSince(context.Request.Query["since"]), context.Connection.RemoteIpAddress).ConfigureAwait(false);
    }

    /// <summary>A non-negative integer, or null (then the client gets a snapshot; protocol.md section 5).</summary>
    private static long? ParseSince(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var since) ? since : null;
}
