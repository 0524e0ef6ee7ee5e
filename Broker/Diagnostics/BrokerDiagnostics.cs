using Microsoft.Extensions.Options;

namespace TopicBroker.Diagnostics;

/// <summary>
/// Observability (docs/operations.md "Health, status, metrics") in two calls: <see cref="AddBrokerDiagnostics"/> registers logging, health checks,
/// the status sampler and the metrics export; <see cref="UseBrokerDiagnostics"/> adds request
/// logging and maps /health, /ready, /api/status, /metrics and /ops.
/// </summary>
internal static class BrokerDiagnostics
{
    public static IServiceCollection AddBrokerDiagnostics(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DiagnosticsOptions>()
            .Bind(configuration.GetSection(DiagnosticsOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<DiagnosticsOptions>, DiagnosticsOptionsValidator>();

        services.AddBrokerLogging(configuration);
        services.AddBrokerHealthChecks();
        services.AddSingleton<StatusSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<StatusSampler>());
        services.AddSingleton<StatusReporter>();
        services.AddBrokerMetricsExport();
        return services;
    }

    /// <summary>Call before any middleware that may end a request (static files), so request logging sees every request.</summary>
    public static WebApplication UseBrokerDiagnostics(this WebApplication app)
    {
        app.UseBrokerRequestLogging();
        app.MapBrokerHealth();
        app.MapBrokerStatus();
        app.MapBrokerMetrics();
        app.MapOpsPage();
        return app;
    }
}
