using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace TopicBroker.Diagnostics;

/// <summary>
/// Serilog from the <c>Serilog</c> configuration section (levels, overrides, enrichers, sinks),
/// with one switch, <see cref="DiagnosticsOptions.LogFormat"/>: Json replaces the configured text
/// console sinks with compact JSON for log shippers. Request logging writes one event per HTTP
/// request, with the path but never the query string (it may carry a token) or the body.
/// </summary>
/// <remarks>
/// Each host keeps its own logger and leaves the static <see cref="Log.Logger"/> alone (it stays
/// Program's bootstrap logger, for start-up failures): a host that set the static logger would
/// route every other in-process host's events to its own sinks, and close them all on disposal.
/// </remarks>
internal static class BrokerLogging
{
    private const string SerilogSection = "Serilog";
    private const string ConsoleSink = "Console";

    public static IServiceCollection AddBrokerLogging(this IServiceCollection services, IConfiguration configuration) =>
        services.AddSerilog((provider, logger) =>
        {
            var format = provider.GetRequiredService<IOptions<DiagnosticsOptions>>().Value.LogFormat;
            if (format == LogFormat.Json)
            {
                logger.ReadFrom.Configuration(WithoutConsoleSinks(configuration))
                    .WriteTo.Console(new RenderedCompactJsonFormatter());
            }
            else
            {
                logger.ReadFrom.Configuration(configuration);
            }

            logger.ReadFrom.Services(provider)
                .Filter.ByExcluding(IsHealthCheckResult);
        }, preserveStaticLogger: true);

    public static IApplicationBuilder UseBrokerRequestLogging(this IApplicationBuilder app)
    {
        // Without a logger of its own the middleware would write to the static one.
        var logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>();
        return app.UseSerilogRequestLogging(options =>
        {
            options.Logger = logger;
            options.GetLevel = RequestLevel;
            // Behind a trusted proxy this is the client's address (Security/TrustedProxies.cs).
            options.MessageTemplate = "HTTP {RequestMethod} {RequestPath} from {RemoteAddress} responded {StatusCode} in {Elapsed:0.0000} ms";
            options.EnrichDiagnosticContext = static (diagnostics, context) =>
                diagnostics.Set("RemoteAddress", context.Connection.RemoteIpAddress?.ToString());
        });
    }

    /// <summary>
    /// Probes, scrapes and the operations page's polling arrive every few seconds and WebSocket
    /// sessions log their own open and close, so those are Debug; a 5xx is Warning (503 is the
    /// broker saying "not now", which it also logs itself) and an exception Error.
    /// </summary>
    internal static LogEventLevel RequestLevel(HttpContext context, double elapsedMs, Exception? exception)
    {
        if (exception is not null)
        {
            return LogEventLevel.Error;
        }

        var path = context.Request.Path;
        if (path.StartsWithSegments(HealthEndpoints.LivenessPath)
            || path.StartsWithSegments(HealthEndpoints.ReadinessPath)
            || path.StartsWithSegments(MetricsExport.Path)
            || path.StartsWithSegments(OpsPageEndpoints.Path)
            || path.StartsWithSegments("/api/status")
            || path.StartsWithSegments("/ws"))
        {
            return LogEventLevel.Debug;
        }

        return context.Response.StatusCode >= StatusCodes.Status500InternalServerError ? LogEventLevel.Warning : LogEventLevel.Information;
    }

    /// <summary>
    /// The health check service logs every Unhealthy result at Error, so a probe every few seconds
    /// during a drain or a store outage would flood the log; the broker logs those states itself
    /// once, when they begin. A check that throws is still logged (HealthCheckError).
    /// </summary>
    private static bool IsHealthCheckResult(LogEvent logEvent) =>
        logEvent.Properties.TryGetValue("SourceContext", out var source)
        && source is ScalarValue { Value: "Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService" }
        && logEvent.Properties.TryGetValue("EventId", out var eventId)
        && eventId is StructureValue id
        && id.Properties.Any(p => p.Name == "Name" && p.Value is ScalarValue { Value: "HealthCheckEnd" });

    /// <summary>The configuration with every <c>Serilog:WriteTo</c> entry named Console left out.</summary>
    private static IConfiguration WithoutConsoleSinks(IConfiguration configuration)
    {
        var consoleEntries = configuration.GetSection(SerilogSection).GetSection("WriteTo").GetChildren()
            .Where(entry => string.Equals(entry["Name"], ConsoleSink, StringComparison.OrdinalIgnoreCase))
            .Select(entry => entry.Path)
            .ToList();
        var kept = configuration.GetSection(SerilogSection).AsEnumerable()
            .Where(pair => !consoleEntries.Any(entry =>
                pair.Key.Equals(entry, StringComparison.OrdinalIgnoreCase)
                || pair.Key.StartsWith(entry + ConfigurationPath.KeyDelimiter, StringComparison.OrdinalIgnoreCase)));
        return new ConfigurationBuilder().AddInMemoryCollection(kept).Build();
    }
}
