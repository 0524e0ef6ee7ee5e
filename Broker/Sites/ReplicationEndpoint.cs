using System.Net.WebSockets;
using Microsoft.Extensions.Options;
using Npgsql;
using TopicBroker.Endpoints;
using TopicBroker.Hosting;
using TopicBroker.Ingest;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;
using TopicBroker.Storage;
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
        HttpContext context, string site, TopicRegistry topics, ReplicationHub hub, IngestPipeline pipeline, OriginPolicy origins, TokenValidator tokens, IOptions<BrokerOptions> options)
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

        // The site is stored (its topics at seq 0) when its first link is accepted, and counted
        // in the store, so Broker:Sites:MaxSites bounds a whole cluster's sites.
        bool registered;
        try
        {
            registered = await pipeline.RunOnStoreAsync(
                store => store.RegisterSiteAsync(site, topics.ConfiguredTopics, topics.MaxSites, context.RequestAborted), context.RequestAborted).ConfigureAwait(false);
        }
        catch (StoreUnavailableException)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable, ErrorCodes.Unavailable, "The store cannot be reached; retry later.").ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            // The pipeline is draining: the broker is stopping.
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable, ErrorCodes.ShuttingDown, "The broker is shutting down; retry when it is back.").ConfigureAwait(false);
            return;
        }

        if (!registered || topics.TryAddStoredSite(site) != TopicLookup.Found)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status409Conflict, ErrorCodes.TooManySites, $"Broker:Sites:MaxSites ({topics.MaxSites}) sites exist; site '{site}' is not one of them.").ConfigureAwait(false);
            return;
        }

        // One link per site in the whole deployment: refused while a link on another node holds it.
        SiteLinkLease? lease;
        try
        {
            lease = await hub.ClaimAsync(site, context.RequestAborted).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable, ErrorCodes.Unavailable, "The store cannot be reached; retry later.").ConfigureAwait(false);
            return;
        }

        if (lease is null)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status409Conflict, ErrorCodes.SiteLinkBusy, $"Another replication link of site '{site}' is open (on another node); retry once it has ended.").ConfigureAwait(false);
            return;
        }

        WebSocket socket;
        try
        {
            socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                // A link to a restaurant crosses the internet: the runtime's ping/pong finds a dead one.
                KeepAliveInterval = options.Value.PingInterval,
                KeepAliveTimeout = options.Value.PongTimeout,
            }).ConfigureAwait(false);
        }
        catch
        {
            await lease.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        using (socket)
        {
            await hub.RunAsync(site, socket, allowed, context.Connection.RemoteIpAddress, lease).ConfigureAwait(false);
        }
    }
}
