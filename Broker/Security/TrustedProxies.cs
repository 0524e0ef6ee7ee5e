using System.Net;
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

/// <summary>
/// The client address <see cref="TrustedProxies"/>' middleware gives a request, for the WebSocket
/// upgrade below HTTP, which reads <c>X-Forwarded-For</c> itself: the last entry (the one the
/// proxy added) when the remote is a trusted proxy, the remote otherwise.
/// </summary>
internal sealed class ForwardedClientResolver(TrustedProxyOptions options)
{
    private readonly IPAddress[] _proxies = [.. options.ParsedProxies()];
    private readonly System.Net.IPNetwork[] _networks = [.. options.ParsedNetworks()];

    /// <summary>False when the entry is not a plain address: the caller leaves that request to HTTP and the middleware itself.</summary>
    public bool TryResolve(IPAddress? remote, string? forwardedFor, out IPAddress? client)
    {
        client = remote;
        if (forwardedFor is null || remote is null || !IsKnownProxy(remote))
        {
            return true;
        }

        var last = forwardedFor[(forwardedFor.LastIndexOf(',') + 1)..].Trim();
        if (!IPEndPoint.TryParse(last, out var endPoint))
        {
            return false;
        }

        client = endPoint.Address;
        return true;
    }

    private bool IsKnownProxy(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6 && IsKnownProxy(address.MapToIPv4()))
        {
            return true;
        }

        return _proxies.Contains(address) || _networks.Any(network => network.Contains(address));
    }
}
