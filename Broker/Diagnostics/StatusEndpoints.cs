namespace TopicBroker.Diagnostics;

/// <summary><c>GET /api/status</c> and <c>GET /api/status/history[?after=unixMs]</c>: docs/operations.md "Health, status, metrics".</summary>
internal static class StatusEndpoints
{
    public static IEndpointRouteBuilder MapBrokerStatus(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/status", GetStatusAsync);
        endpoints.MapGet("/api/status/history", GetHistory);
        return endpoints;
    }

    private static async Task<IResult> GetStatusAsync(HttpContext context, StatusReporter reporter)
    {
        var status = await reporter.GetStatusAsync(context.RequestAborted).ConfigureAwait(false);
        NoStore(context);
        return TypedResults.Json(status, DiagnosticsJsonContext.Relaxed.BrokerStatus);
    }

    private static IResult GetHistory(HttpContext context, StatusReporter reporter, long? after)
    {
        NoStore(context);
        return TypedResults.Json(reporter.GetHistory(after), DiagnosticsJsonContext.Relaxed.StatusHistory);
    }

    // Every answer is a reading of now; a cache in between would show a stale broker as live.
    private static void NoStore(HttpContext context) => context.Response.Headers.CacheControl = "no-store";
}
