using Microsoft.Extensions.Options;
using Serilog;
using ILogger = Microsoft.Extensions.Logging.ILogger;
using TopicBroker.Connections;
using TopicBroker.Diagnostics;
using TopicBroker.Endpoints;
using TopicBroker.Ingest;
using TopicBroker.Security;
using TopicBroker.Storage;
using TopicBroker.Topics;

namespace TopicBroker.Hosting;

/// <summary>Builds the broker's web application: used by Program and by the tests, so both run the same thing.</summary>
internal static partial class BrokerApplication
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

        var app = builder.Build();
        app.Services.GetRequiredService<ConnectionManager>().Metrics = app.Services.GetRequiredService<BrokerMetrics>();
        app.UseBrokerDiagnostics();
        UseSamples(app);
        app.Use(CoalescingUpgradeFeature.Install("/ws"));
        app.UseWebSockets();
        app.MapTopicWebSockets();
        app.MapTopicApi();
        return app;
    }

    private static void UseSamples(WebApplication app)
    {
        var samples = app.Configuration.GetSection(SamplesOptions.SectionName).Get<SamplesOptions>() ?? new SamplesOptions();
        if (!samples.Enabled)
        {
            return;
        }

        var root = samples.Resolve();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(BrokerApplication));
        if (root is null)
        {
            SamplesLog.NotFound(logger, samples.Path);
            return;
        }

        var files = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(root);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        SamplesLog.Serving(logger, root);

        // The pages import the JavaScript client package's module (clients/js/lib) from /lib.
        if (SamplesOptions.Resolve(SamplesOptions.ClientLibraryPath) is { } library)
        {
            app.UseStaticFiles(new StaticFileOptions { FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(library), RequestPath = "/lib" });
        }
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
            // A client that opens a connection and stalls in its handshake is dropped after this.
            kestrel.Limits.RequestHeadersTimeout = broker.Value.HandshakeTimeout);
        services.AddOptions<HostOptions>().Configure<IOptions<BrokerOptions>>((host, broker) =>
            // The host must outwait the broker's own shutdown, or it would cut the drain short.
            host.ShutdownTimeout = broker.Value.ShutdownTimeout + TimeSpan.FromSeconds(5));

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<TopicRegistry>();
        services.AddSingleton<TokenValidator>();
        services.AddSingleton<OriginPolicy>();
        services.AddSingleton<ClientMessageHandler>();
        services.AddSingleton<SendWorkers>();
        services.AddSingleton<ConnectionManager>();
        services.AddMetrics();
        services.AddSingleton<BrokerMetrics>();
        services.AddSingleton<ChangeParser>();
        services.AddSingleton<IStateStore>(sp =>
            sp.GetRequiredService<IOptions<BrokerOptions>>().Value.Storage.Provider == StorageProvider.Postgres
                ? ActivatorUtilities.CreateInstance<PostgresStateStore>(sp)
                : ActivatorUtilities.CreateInstance<SqliteStateStore>(sp));
        services.AddSingleton<IngestPipeline>();
        services.AddSingleton<BridgeListener>();
        services.AddSingleton<IIngestSource>(sp => sp.GetRequiredService<BridgeListener>());

        services.AddHostedService<AnonymousModeWarning>();

        // Start order matters: the pipeline loads state before anything can publish or subscribe.
        services.AddHostedService(sp => sp.GetRequiredService<IngestPipeline>());
        services.AddHostedService<PollingService>();
        services.AddHostedService<ConnectionHeartbeat>();
        services.AddHostedService(sp => sp.GetRequiredService<BridgeListener>());
        services.AddHostedService<ShutdownCoordinator>();
        return services;
    }

    private static partial class SamplesLog
    {
        [LoggerMessage(1, LogLevel.Information, "Serving the sample pages from {Path}: dashboard at /, kitchen display at /kitchen.html")]
        public static partial void Serving(ILogger logger, string path);

        [LoggerMessage(2, LogLevel.Warning, "Broker:Samples:Path '{Path}' was not found; the sample pages are not served")]
        public static partial void NotFound(ILogger logger, string path);
    }
}
