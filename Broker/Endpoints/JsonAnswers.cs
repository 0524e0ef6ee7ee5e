using TopicBroker.Ingest;
using TopicBroker.Protocol;

namespace TopicBroker.Endpoints;

/// <summary>Writes the broker's JSON answers and error objects (protocol.md "HTTP API" and "Security") on HTTP.</summary>
internal static class JsonAnswers
{
    private const string JsonContentType = "application/json; charset=utf-8";

    public static Task WriteAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = JsonContentType;
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    public static Task WriteErrorAsync(HttpContext context, int status, string code, string message)
    {
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return WriteAsync(context, status, FrameSerializer.Answer(PublishResult.Rejected(code, message).ToAnswer()));
    }
}
