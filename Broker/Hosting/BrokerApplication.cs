using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TopicBroker.Cluster;
using TopicBroker.Connections;
using TopicBroker.Diagnostics;
using TopicBroker.Endpoints;
using TopicBroker.Ingest;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;
using TopicBroker.Sites;
using TopicBroker.Upstream;
using TopicBroker.Storage;
using TopicBroker.Topics;

namespace TopicBroker.Hosting;

/// <summary>Builds the broker's web application: used by Program and by the tests, so both run the same thing.</summary>
internal static class BrokerApplication
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        configure?.Invoke(builder);

        builder.Services.AddBrokerDiagnostics(builder.Configuration);

        builder.Services.AddTopicBroker(builder.Configuration);
        builder.Services.AddStaticContent(builder.Configuration);
        builder.Services.AddTrustedProxies(builder.Configuration);

        var app = builder.Build();
        app.Services.GetRequiredService<ConnectionManager>().Metrics = app.Services.GetRequiredService<BrokerMetrics>();
        app.Services.GetRequiredService<ConnectionManager>().CatchUp = app.Services.GetService<ClusterLink>();
        app.Services.GetRequiredService<TopicBroker.Sites.ReplicationMetrics>();
        app.UseTrustedProxies();
        app.UseBrokerDiagnostics();
        app.UseStaticContent();
        app.Use(CoalescingUpgradeFeature.Install("/ws"));
        app.UseWebSockets();
        app.MapTopicWebSockets();
        app.MapTopicApi();
        app.MapReplication();
        return app;
    }

    public static IServiceCollection AddTopicBroker(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BrokerOptions>()
            .Bind(configuration.GetSection(BrokerOptions.SectionName))
            .PostConfigure(options => options.ApplyDefaults())
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>();
        services.AddSingleton<IValidateOptions<BrokerOptions>, ExposureValidator>();
        services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>().Configure<IOptions<BrokerOptions>>((kestrel, broker) =>
        {
            // A client that opens a connection and stalls in its handshake is dropped after this.
            kestrel.Limits.RequestHeadersTimeout = broker.Value.HandshakeTimeout;
            if (broker.Value.WebSocket.RawUpgrade)
            {
                WebSocketUpgradeMiddleware.Install(kestrel);
            }
        });
        services.AddOptions<HostOptions>().Configure<IOptions<BrokerOptions>>((host, broker) =>
            // The host must outwait the broker's own shutdown, or it would cut the drain short.
            host.ShutdownTimeout = broker.Value.ShutdownTimeout + TimeSpan.FromSeconds(5));

        // TryAdd: a host (a test with a FakeTimeProvider) may bring its own clock.
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<TopicRegistry>();
        services.AddSingleton<TokenValidator>();
        services.AddSingleton<OriginPolicy>();
        services.AddSingleton<ClientMessageHandler>();
        services.AddSingleton<SendWorkers>();
        services.AddSingleton<ConnectionManager>();
        services.AddMetrics();
        services.AddSingleton<BrokerMetrics>();
        services.AddSingleton<ChangeReader>();
        services.AddSingleton<IStateStore>(sp =>
            sp.GetRequiredService<IOptions<BrokerOptions>>().Value.Storage.Provider == StorageProvider.Postgres
                ? ActivatorUtilities.CreateInstance<PostgresStateStore>(sp)
                : ActivatorUtilities.CreateInstance<SqliteStateStore>(sp));
        services.AddSingleton<StoreHealth>();
        services.AddSingleton<TopicSequencer>();
        // Cluster mode (docs/operations.md "Cluster mode") is chosen by configuration at start-up.
        var clustered = !string.IsNullOrWhiteSpace(configuration[$"{BrokerOptions.SectionName}:Cluster:Redis"]);
        if (clustered)
        {
            services.AddSingleton<ClusterLink>();
            services.AddSingleton<ICommitFeed>(sp => sp.GetRequiredService<ClusterLink>());
        }
        else
        {
            services.AddSingleton<ICommitFeed, NoCommitFeed>();
        }

        services.AddSingleton<IngestPipeline>();
        services.AddSingleton<BridgeListener>();
        services.AddSingleton<IIngestSource>(sp => sp.GetRequiredService<BridgeListener>());
        // One replication link per site in the whole deployment (protocol.md "Sites and upstream replication").
        services.AddSingleton<ISiteLinkLocks>(sp =>
            sp.GetRequiredService<IOptions<BrokerOptions>>().Value.Storage.Provider == StorageProvider.Postgres
                ? ActivatorUtilities.CreateInstance<PostgresSiteLinkLocks>(sp)
                : new LocalSiteLinkLocks());
        services.AddSingleton<ReplicationHub>();
        services.AddSingleton<IIngestSource>(sp => sp.GetRequiredService<ReplicationHub>());
        services.AddSingleton<UpstreamForwarder>();
        services.AddSingleton<ReplicationMetrics>();

        services.AddHostedService<AnonymousModeWarning>();

        // Start order matters: the cluster link subscribes before the pipeline loads (so nothing
        // committed elsewhere falls between the two), and the pipeline loads state before anything
        // can publish or subscribe.
        if (clustered)
        {
            services.AddHostedService(sp => sp.GetRequiredService<ClusterLink>());
        }

        services.AddHostedService(sp => sp.GetRequiredService<IngestPipeline>());
        services.AddHostedService<PollingService>();
        services.AddHostedService<ConnectionHeartbeat>();
        services.AddHostedService(sp => sp.GetRequiredService<BridgeListener>());
        services.AddHostedService(sp => sp.GetRequiredService<UpstreamForwarder>());
        services.AddHostedService<ShutdownCoordinator>();
        return services;
    }
}
