using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Ingest;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;
using TopicBroker.Topics;

namespace TopicBroker.Endpoints;

/// <summary>HTTP publish and snapshot: protocol.md "HTTP API". Publishes take the same path as bridge lines.</summary>
internal static class TopicApiEndpoints
{
    public static IEndpointRouteBuilder MapTopicApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/topics");
        api.AddEndpointFilter(RefuseForeignOriginsAsync);
        api.MapGet("/{topic}", GetSnapshotAsync);
        api.MapPost("/{topic}/entities/{id}", PublishAsync);
        api.MapDelete("/{topic}/entities/{id}", DeleteAsync);
        // Site topics (protocol.md "Sites and upstream replication"): read like any topic; writes answer replicated_topic.
        api.MapGet("/{site}/{topic}", (HttpContext context, string site, string topic, TopicRegistry topics, TokenValidator tokens) =>
            GetSnapshotAsync(context, site + "/" + topic, topics, tokens));
        api.MapPost("/{site}/{topic}/entities/{id}", (HttpContext context, string site, string topic, string id, ChangeReader parser, IngestPipeline pipeline, TokenValidator tokens, IOptions<BrokerOptions> options) =>
            PublishAsync(context, site + "/" + topic, id, parser, pipeline, tokens, options));
        api.MapDelete("/{site}/{topic}/entities/{id}", (HttpContext context, string site, string topic, string id, ChangeReader parser, IngestPipeline pipeline, TokenValidator tokens) =>
            DeleteAsync(context, site + "/" + topic, id, parser, pipeline, tokens));
        return endpoints;
    }

    private static async Task GetSnapshotAsync(HttpContext context, string topic, TopicRegistry topics, TokenValidator tokens)
    {
        if (!await AuthorizeAsync(context, tokens, grants => grants.MaySubscribe(topic)).ConfigureAwait(false))
        {
            return;
        }

        if (!topics.TryGet(topic, out var state) && topics.IsSiteTopicName(topic, out _, out _))
        {
            // A site with no data yet: its empty state, without creating the site for a mere read.
            await JsonAnswers.WriteAsync(context, StatusCodes.Status200OK, FrameSerializer.Snapshot(topic, 0, new Dictionary<string, byte[]>()).Payload).ConfigureAwait(false);
            return;
        }

        if (state is null)
        {
            await WriteAnswerAsync(context, PublishResult.Rejected(ErrorCodes.UnknownTopic, $"Unknown topic '{topic}'.")).ConfigureAwait(false);
            return;
        }

        await JsonAnswers.WriteAsync(context, StatusCodes.Status200OK, state.GetSnapshot().Payload).ConfigureAwait(false);
    }

    /// <summary>
    /// A request a browser sends on behalf of a page from another site carries that site's Origin;
    /// it gets 403, as a WebSocket handshake would (protocol.md "Security"). Requests without an
    /// Origin (curl, robots, servers) are not affected.
    /// </summary>
    private static async ValueTask<object?> RefuseForeignOriginsAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!http.RequestServices.GetRequiredService<OriginPolicy>().IsAllowed(http.Request))
        {
            await JsonAnswers.WriteErrorAsync(http, StatusCodes.Status403Forbidden, ErrorCodes.OriginNotAllowed, "This page's origin may not use the API.").ConfigureAwait(false);
            return Results.Empty;
        }

        return await next(context).ConfigureAwait(false);
    }

    /// <summary>401 without a valid token, 403 when it lacks the right; true when the request may go on.</summary>
    private static async Task<bool> AuthorizeAsync(HttpContext context, TokenValidator tokens, Func<TopicGrants, bool> allows)
    {
        var token = await tokens.ValidateAsync(TokenReader.FromRequest(context.Request)).ConfigureAwait(false);
        if (!token.Ok)
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, token.Error!).ConfigureAwait(false);
            return false;
        }

        if (!allows(token.Grants!))
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, "The token does not allow this on this topic.").ConfigureAwait(false);
            return false;
        }

        return true;
    }

    /// <summary>
    /// The entity id as the client meant it (protocol.md "HTTP API"): the last segment of the raw
    /// request target, percent-decoded exactly once. Kestrel's route value cannot be used as is: it
    /// decodes everything but <c>%2F</c>, so <c>a%2Fb</c> would stay <c>a%2Fb</c> while
    /// <c>a%252Fb</c> would arrive as the same <c>a%2Fb</c>.
    /// </summary>
    internal static string EntityId(HttpContext context, string routeId)
    {
        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw) || raw[0] != '/')
        {
            return routeId;
        }

        var path = raw.AsSpan();
        var query = path.IndexOfAny('?', '#');
        if (query >= 0)
        {
            path = path[..query];
        }

        return Uri.UnescapeDataString(path[(path.LastIndexOf('/') + 1)..].ToString());
    }

    private static async Task PublishAsync(
        HttpContext context, string topic, string id, ChangeReader parser, IngestPipeline pipeline, TokenValidator tokens, IOptions<BrokerOptions> options)
    {
        id = EntityId(context, id);
        if (await CheckWriteAsync(context, topic, id, parser, tokens).ConfigureAwait(false) is not { } state)
        {
            return;
        }

        // Only JSON: a cross-site form or no-cors fetch cannot send this content type without a
        // CORS preflight, which the broker never grants.
        if (!context.Request.HasJsonContentType())
        {
            await JsonAnswers.WriteErrorAsync(context, StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType, "The body must be sent as Content-Type: application/json.").ConfigureAwait(false);
            return;
        }

        var body = await ReadBodyAsync(context.Request.BodyReader, options.Value.MaxMessageBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            await WriteAnswerAsync(context, PublishResult.Rejected(ErrorCodes.TooLarge, $"The body is over Broker:MaxMessageBytes ({options.Value.MaxMessageBytes} bytes).")).ConfigureAwait(false);
            return;
        }

        if (!ChangeReader.TryReadBody(body, out var error))
        {
            await WriteAnswerAsync(context, PublishResult.Rejected(error)).ConfigureAwait(false);
            return;
        }

        var result = await pipeline.PublishAsync(new InboundChange(state, id, body), context.RequestAborted).ConfigureAwait(false);
        await WriteAnswerAsync(context, result).ConfigureAwait(false);
    }

    private static async Task DeleteAsync(HttpContext context, string topic, string id, ChangeReader parser, IngestPipeline pipeline, TokenValidator tokens)
    {
        id = EntityId(context, id);
        if (await CheckWriteAsync(context, topic, id, parser, tokens).ConfigureAwait(false) is not { } state)
        {
            return;
        }

        var result = await pipeline.PublishAsync(new InboundChange(state, id, null), context.RequestAborted).ConfigureAwait(false);
        await WriteAnswerAsync(context, result).ConfigureAwait(false);
    }

    /// <summary>
    /// What a publish and a delete check first: the token's grant, the topic and the id. Null when
    /// refused, with the answer written.
    /// </summary>
    private static async Task<TopicState?> CheckWriteAsync(HttpContext context, string topic, string id, ChangeReader parser, TokenValidator tokens)
    {
        if (!await AuthorizeAsync(context, tokens, grants => grants.MayPublish(topic)).ConfigureAwait(false))
        {
            return null;
        }

        if (!parser.TryGetTopic(topic, out var state, out var error) || !EntityRules.TryValidateId(id, out error))
        {
            await WriteAnswerAsync(context, PublishResult.Rejected(error)).ConfigureAwait(false);
            return null;
        }

        return state;
    }

    /// <summary>Reads the whole body, or returns null as soon as it passes <paramref name="limit"/> bytes.</summary>
    private static async Task<byte[]?> ReadBodyAsync(PipeReader reader, int limit, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.Buffer.Length > limit)
            {
                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                return null;
            }

            if (result.IsCompleted)
            {
                var body = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                return body;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static Task WriteAnswerAsync(HttpContext context, PublishResult result) =>
        JsonAnswers.WriteAsync(context, StatusFor(result), FrameSerializer.Answer(result.ToAnswer()));

    private static int StatusFor(PublishResult result) => result.Error switch
    {
        null => StatusCodes.Status200OK,
        ErrorCodes.UnknownTopic => StatusCodes.Status404NotFound,
        ErrorCodes.TooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorCodes.TooManyEntities or ErrorCodes.ReplicatedTopic or ErrorCodes.TooManySites => StatusCodes.Status409Conflict,
        ErrorCodes.Unavailable or ErrorCodes.ShuttingDown => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };
}
