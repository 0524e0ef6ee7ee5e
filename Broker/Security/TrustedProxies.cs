using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace TopicBroker.Security;

/// <summary>
/// ASP.NET Core's ForwardedHeadersMiddleware, configured from <see cref="TrustedProxyOptions"/>:
/// with a proxy listed, a request it forwards gets <c>Connection.RemoteIpAddress</c> from the
/// last <c>X-Forwarded-For</c> entry (the one that proxy added) and <c>Request.Scheme</c> from
/// <c>X-Forwarded-Proto</c>; everything after it (limits, logs, status) reads those.
/// </summary>
internal static class TrustedProxies
{
    public static IServiceCollection AddTrustedProxies(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TrustedProxyOptions>()
            .Bind(configuration.GetSection(TrustedProxyOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TrustedProxyOptions>, TrustedProxyOptionsValidator>();
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<TrustedProxyOptions>>((forwarded, trusted) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            // The framework trusts loopback by default; here only what is configured is trusted,
            // so a broker without the setting ignores the headers from everyone.
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in trusted.Value.ParsedProxies())
            {
                forwarded.KnownProxies.Add(proxy);
            }

            foreach (var network in trusted.Value.ParsedNetworks())
            {
                forwarded.KnownIPNetworks.Add(network);
            }

            // Only the entry the trusted proxy appended is believed: anything before it came
            // from the client.
            forwarded.ForwardLimit = 1;
        });
        return services;
    }

    /// <summary>First in the pipeline, so request logging and every endpoint see the forwarded address.</summary>
    public static WebApplication UseTrustedProxies(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<TrustedProxyOptions>>().Value.Enabled)
        {
            app.UseForwardedHeaders();
        }

        return app;
    }
}
