using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TopicBroker.Diagnostics;

/// <summary>
/// <c>/health</c> (liveness: the process answers) and <c>/ready</c> (readiness: store, bridge, not
/// shutting down), answered 200 when healthy and 503 when not, with the JSON body of the
/// HealthChecks UI format that dashboards and humans read; probes need only the status code.
/// </summary>
internal static class HealthEndpoints
{
    // Relaxed escaping: the body is read by JSON parsers, never embedded in HTML.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public const string LivenessPath = "/health";
    public const string ReadinessPath = "/ready";

    public static IHealthChecksBuilder AddBrokerHealthChecks(this IServiceCollection services) =>
        services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>(ReadinessChecks.Store, tags: [ReadinessChecks.Tag])
            .AddCheck<BridgeHealthCheck>(ReadinessChecks.Bridge, tags: [ReadinessChecks.Tag])
            .AddCheck<ShutdownHealthCheck>(ReadinessChecks.Shutdown, tags: [ReadinessChecks.Tag]);

    public static IEndpointRouteBuilder MapBrokerHealth(this IEndpointRouteBuilder endpoints)
    {
        // Liveness runs no check: a broker that is draining or cannot write is still alive, and
        // restarting it would only lose what it is draining.
        endpoints.MapHealthChecks(LivenessPath, new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = WriteReportAsync,
        });
        endpoints.MapHealthChecks(ReadinessPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadinessChecks.Tag),
            ResponseWriter = WriteReportAsync,
        });
        return endpoints;
    }

    /// <summary><c>{"status","totalDuration","entries":{name:{"status","description","duration","tags","data"}}}</c>.</summary>
    internal static async Task WriteReportAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(context.Response.Body, WriterOptions);
        json.WriteStartObject();
        json.WriteString("status", report.Status.ToString());
        json.WriteString("totalDuration", report.TotalDuration.ToString("c"));
        json.WriteStartObject("entries");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject(name);
            json.WriteString("status", entry.Status.ToString());
            if (entry.Description is not null)
            {
                json.WriteString("description", entry.Description);
            }

            json.WriteString("duration", entry.Duration.ToString("c"));
            json.WriteStartArray("tags");
            foreach (var tag in entry.Tags)
            {
                json.WriteStringValue(tag);
            }

            json.WriteEndArray();
            json.WriteStartObject("data");
            foreach (var (key, value) in entry.Data)
            {
                WriteDataValue(json, key, value);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    // The checks put only numbers, booleans and strings in their data; exceptions stay out of the
    // body (they are logged), so a probe never shows internals.
    private static void WriteDataValue(Utf8JsonWriter json, string key, object value)
    {
        switch (value)
        {
            case bool flag:
                json.WriteBoolean(key, flag);
                break;
            case int number:
                json.WriteNumber(key, number);
                break;
            case long number:
                json.WriteNumber(key, number);
                break;
            case double number:
                json.WriteNumber(key, number);
                break;
            default:
                json.WriteString(key, value.ToString());
                break;
        }
    }
}
