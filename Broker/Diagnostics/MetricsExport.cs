using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace TopicBroker.Diagnostics;

/// <summary>
/// <c>/metrics</c>: the broker's meter (and the runtime's and ASP.NET Core's) in Prometheus text
/// format through OpenTelemetry's exporter, which keeps the instruments' own names: dots become
/// underscores, the unit a suffix, counters end in <c>_total</c>.
/// </summary>
internal static class MetricsExport
{
    public const string Path = "/metrics";

    /// <summary>
    /// Meters besides the broker's. Their labels are bounded too: ASP.NET Core labels requests by
    /// route template (<c>/ws/{topic}</c>), never by raw path.
    /// </summary>
    private static readonly string[] PlatformMeters =
    [
        "System.Runtime",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
    ];

    public static IServiceCollection AddBrokerMetricsExport(this IServiceCollection services)
    {
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("topicbroker", serviceVersion: StatusReporter.Version))
            .WithMetrics(metrics =>
            {
                metrics
                    .AddMeter(BrokerMetrics.MeterName)
                    .AddMeter(PlatformMeters)
                    .AddPrometheusExporter(options =>
                    {
                        // Scope labels (otel_scope_name=...) on every series would only repeat the
                        // metric's prefix; target_info still names the service and its version.
                        options.ScopeInfoEnabled = false;
                    });
                ((IDeferredMeterProviderBuilder)metrics).Configure((provider, builder) =>
                    builder.AddView(OnlyThisHost(provider.GetRequiredService<IMeterFactory>())));
            });
        return services;
    }

    /// <summary>
    /// OpenTelemetry subscribes to meters by name, process-wide: with two brokers in one process
    /// (the tests run several) each would export the other's series too. A meter made by a host's
    /// <see cref="IMeterFactory"/> carries that factory as its scope, so only this host's are kept;
    /// meters without a scope (the runtime's) belong to the whole process and stay.
    /// </summary>
    private static Func<Instrument, MetricStreamConfiguration?> OnlyThisHost(IMeterFactory factory) =>
        instrument => instrument.Meter.Scope is null || ReferenceEquals(instrument.Meter.Scope, factory) ? null : MetricStreamConfiguration.Drop;

    public static IEndpointRouteBuilder MapBrokerMetrics(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint(Path);
        return endpoints;
    }
}
