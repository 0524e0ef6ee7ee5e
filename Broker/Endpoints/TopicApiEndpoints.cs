using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Ingest;
using TopicBroker.Protocol;
using TopicBroker.Topics;

namespace TopicBroker.Endpoints;

/// <summary>HTTP publish and snapshot: protocol.md section 7. Publishes take the same path as bridge lines.</summary>
internal static class TopicApiEndpoints
{
    private const string JsonContentType = "application/json; charset=utf-8";

    public static IEndpointRouteBuilder MapTopicApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/topics");
        api.MapGet("/{topic}", GetSnapshotAsync);
        api.MapPost("/{topic}/entities/{id}", PublishAsync);
        api.MapDelete("/{topic}/entities/{id}", DeleteAsync);
        return endpoints;
    }

    private static Task GetSnapshotAsync(HttpContext context, string topic, TopicRegistry topics)
    {
        if (!topics.TryGet(topic, out var state))
        {
            return WriteAnswerAsync(context, PublishResult.Rejected(ErrorCodes.UnknownTopic, $"Unknown topic '{topic}'."));
        }

        return WriteJsonAsync(context, StatusCodes.Status200OK, state.GetSnapshot().Payload);
    }

    private static async Task PublishAsync(
        HttpContext context, string topic, string id, ChangeParser parser, IngestPipeline pipeline, IOptions<BrokerOptions> options)
    {
        if (!parser.TryGetTopic(topic, out var state, out var error) || !ChangeParser.TryValidateId(id, out error))
        {
            await WriteAnswerAsync(context, error).ConfigureAwait(false);
            return;
        }

        var body = await ReadBodyAsync(context.Request.BodyReader, options.Value.MaxMessageBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            await WriteAnswerAsync(context, PublishResult.Rejected(ErrorCodes.TooLarge, $"The body is over Broker:MaxMessageBytes ({options.Value.MaxMessageBytes} bytes).")).ConfigureAwait(false);
            return;
        }

        if (!ChangeParser.TryValidateData(body, out error))
        {
            await WriteAnswerAsync(context, error).ConfigureAwait(false);
            return;
        }

        var result = await pipeline.PublishAsync(new ParsedChange(state, id, body), context.RequestAborted).ConfigureAwait(false);
        await WriteAnswerAsync(context, result).ConfigureAwait(false);
    }

    private static async Task DeleteAsync(HttpContext context, string topic, string id, ChangeParser parser, IngestPipeline pipeline)
    {
        if (!parser.TryGetTopic(topic, out var state, out var error) || !ChangeParser.TryValidateId(id, out error))
        {
            await WriteAnswerAsync(context, error).ConfigureAwait(false);
            return;
        }

        var result = await pipeline.PublishAsync(new ParsedChange(state, id, null), context.RequestAborted).ConfigureAwait(false);
        await WriteAnswerAsync(context, result).ConfigureAwait(false);
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
        WriteJsonAsync(context, StatusFor(result), FrameSerializer.Answer(result.ToAnswer()));

    private static int StatusFor(PublishResult result) => result.Error switch
    {
        null => StatusCodes.Status200OK,
        ErrorCodes.UnknownTopic => StatusCodes.Status404NotFound,
        ErrorCodes.TooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorCodes.Unavailable or ErrorCodes.ShuttingDown => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };

    private static async Task WriteJsonAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = JsonContentType;
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }
}
