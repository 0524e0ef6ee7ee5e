using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using TopicBroker.Connections;
using TopicBroker.Hosting;
using TopicBroker.Ingest;

namespace TopicBroker.Diagnostics;

/// <summary>The tag of the checks <c>/ready</c> runs; <c>/health</c> (liveness) runs none.</summary>
internal static class ReadinessChecks
{
    public const string Tag = "ready";

    public const string Store = "store";
    public const string Bridge = "bridge";
    public const string Shutdown = "shutdown";
}

/// <summary>Ready while the store commits: after a failed commit every publish is answered 'unavailable'.</summary>
internal sealed class StoreHealthCheck(IngestPipeline pipeline) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["committedChanges"] = pipeline.CommittedChanges };
        return Task.FromResult(pipeline.IsStoreHealthy
            ? HealthCheckResult.Healthy("The store commits.", data)
            : HealthCheckResult.Unhealthy("The last commit failed; publishes are answered 'unavailable' until one succeeds.", data: data));
    }
}

/// <summary>Ready while the TCP bridge accepts robots, or when it is disabled by configuration.</summary>
internal sealed class BridgeHealthCheck(BridgeListener bridge, IOptions<BrokerOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!options.Value.TcpBridge.Enabled)
        {
            return Task.FromResult(HealthCheckResult.Healthy("The TCP bridge is disabled (Broker:TcpBridge:Enabled)."));
        }

        var data = new Dictionary<string, object> { ["connections"] = bridge.ConnectionCount };
        if (ReadEndPoint(bridge) is { } endPoint)
        {
            data["endPoint"] = endPoint;
        }

        return Task.FromResult(bridge.IsListening
            ? HealthCheckResult.Healthy("The TCP bridge is listening.", data)
            : HealthCheckResult.Unhealthy("The TCP bridge is not listening.", data: data));
    }

    /// <summary>The bridge's bound endpoint, or null once it has stopped.</summary>
    public static string? ReadEndPoint(BridgeListener bridge) =>
        bridge.IsListening ? bridge.LocalEndPoint?.ToString() : null;
}

/// <summary>
/// Not ready from the moment a stop is requested: a load balancer should send nobody new while
/// the broker drains, and Kestrel still answers this probe until the drain is over.
/// </summary>
internal sealed class ShutdownHealthCheck(IHostApplicationLifetime lifetime, ConnectionManager connections) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        // ApplicationStopping is the earliest signal of a SIGTERM; IsShuttingDown is the broker's own drain.
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested || connections.IsShuttingDown
            ? HealthCheckResult.Unhealthy("The broker is shutting down.")
            : HealthCheckResult.Healthy("The broker is running."));
}
