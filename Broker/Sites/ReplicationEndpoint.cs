using Microsoft.Extensions.Options;
using TopicBroker.Endpoints;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;
using TopicBroker.Topics;

namespace TopicBroker.Sites;

/// <summary><c>GET /replicate/{site}</c>: a restaurant broker's replication link (protocol.md "Sites and upstream replication").</summary>
internal static class ReplicationEndpoint
{
    public static IEndpointRouteBuilder MapReplication(this IEndpointRouteBuilder endpoints)
    {
        endpoints.Map(ReplicationMessages.Path + "/{site}", HandleAsync);
        return endpoints;
    }

    private static async Task HandleAsync(
        HttpContext context, string site, TopicRegistry topics, ReplicationHub hub, OriginPolicy origins, TokenValidator tokens, IOptions<BrokerOptions> options)
    {
        // Every refusal comes before the upgrade, as an HTTP status with the error object: the
        // restaurant's broker logs it and retries later.
        if (!topics.SitesEnabled)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status404NotFound, ErrorCodes.UnknownTopic, "This broker does not take site topics (Broker:Sites:Enabled is off).").ConfigureAwait(false);
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status400BadRequest, ErrorCodes.InvalidJson, "The replication link speaks WebSocket only.").ConfigureAwait(false);
            return;
        }

        if (!origins.IsAllowed(context.Request))
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status403Forbidden, ErrorCodes.OriginNotAllowed, "This page's origin may not open a replication link.").ConfigureAwait(false);
            return;
        }

        var token = await tokens.ValidateAsync(TokenReader.FromRequest(context.Request)).ConfigureAwait(false);
        if (!token.Ok)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, token.Error!).ConfigureAwait(false);
            return;
        }

        if (!SiteTopicName.IsValidSite(site))
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status404NotFound, ErrorCodes.UnknownTopic, "A site name is 1-63 characters of a-z, 0-9 and '-', not starting with '-'.").ConfigureAwait(false);
            return;
        }

        // The link writes the site topics its token may publish to, and no other site's.
        var allowed = topics.ConfiguredTopics.Where(topic => token.Grants!.MayPublish(SiteTopicName.Combine(site, topic))).ToArray();
        if (allowed.Length == 0)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, $"The token does not allow publishing to site '{site}'.").ConfigureAwait(false);
            return;
        }

        if (hub.IsStopping)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable, ErrorCodes.ShuttingDown, "The broker is shutting down; retry when it is back.").ConfigureAwait(false);
            return;
        }

        if (topics.TryAddSite(site) == TopicLookup.TooManySites)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status409Conflict, ErrorCodes.TooManySites, $"Broker:Sites:MaxSites ({topics.MaxSites}) sites exist; site '{site}' is not one of them.").ConfigureAwait(false);
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            // A link to a restaurant crosses the internet: the runtime's ping/pong finds a dead one.
            KeepAliveInterval = options.Value.PingInterval,
            KeepAliveTimeout = options.Value.PongTimeout,
        }).ConfigureAwait(false);
        await hub.RunAsync(site, socket, allowed, context.Connection.RemoteIpAddress).ConfigureAwait(false);
    }
}
