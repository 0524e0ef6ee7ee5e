using System.Net;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;

namespace TopicBroker.Security;

/// <summary>
/// Without a signing key the broker is open to anyone who can reach it, so it refuses to start
/// on a non-loopback address (HTTP or bridge), or behind a trusted reverse proxy, unless <see cref="AuthOptions.AllowAnonymous"/> says
/// that is deliberate (protocol.md "Security").
/// </summary>
internal sealed class ExposureValidator(IConfiguration configuration) : IValidateOptions<BrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
    {
        if (options.Auth.Enabled || options.Auth.AllowAnonymous)
        {
            return ValidateOptionsResult.Success;
        }

        var exposed = new List<string>();
        foreach (var url in ListenUrls())
        {
            if (!IsLoopbackUrl(url))
            {
                exposed.Add(url);
            }
        }

        if (options.TcpBridge.Enabled && IPAddress.TryParse(options.TcpBridge.Address, out var bridge) && !IPAddress.IsLoopback(bridge))
        {
            exposed.Add($"tcp://{options.TcpBridge.Address}:{options.TcpBridge.Port}");
        }

        // A trusted proxy means clients beyond this host: the broker is exposed through it,
        // whatever address it listens on itself.
        if (configuration.GetSection(TrustedProxyOptions.SectionName).GetChildren().Any(list => list.GetChildren().Any()))
        {
            exposed.Add($"the proxies of {TrustedProxyOptions.SectionName}");
        }

        return exposed.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Refusing to listen on {string.Join(", ", exposed)} without authentication: set Broker:Auth:SigningKey, " +
                "or set Broker:Auth:AllowAnonymous=true to run an open broker on purpose.");
    }

    private IEnumerable<string> ListenUrls()
    {
        var urls = (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var url in urls)
        {
            yield return url;
        }

        if (urls.Length == 0)
        {
            // Without URLs, ASP.NET Core binds HTTP_PORTS / HTTPS_PORTS (set by container images)
            // on every address.
            foreach (var key in new[] { "http_ports", "https_ports" })
            {
                foreach (var port in (configuration[key] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    yield return $"http://*:{port}";
                }
            }
        }

        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
        {
            if (endpoint["Url"] is { } url)
            {
                yield return url;
            }
        }
    }

    internal static bool IsLoopbackUrl(string url)
    {
        // Kestrel's wildcards ("http://*:80", "http://+:80") are not valid URI hosts; they mean every address.
        var host = url.Contains("://*", StringComparison.Ordinal) || url.Contains("://+", StringComparison.Ordinal)
            ? "*"
            : Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host.Trim('[', ']') : "*";
        return string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }
}
