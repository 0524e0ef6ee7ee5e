using Microsoft.Extensions.Options;
using TopicBroker.Hosting;

namespace TopicBroker.Security;

/// <summary>
/// Decides whether a WebSocket handshake's Origin may connect: the defence against cross-site
/// WebSocket hijacking (protocol.md "Security"). Allowed: no Origin (not a browser), the broker's
/// own origin, localhost, and whatever <see cref="BrokerOptions.AllowedOrigins"/> lists
/// (<c>*</c> allows every origin).
/// </summary>
internal sealed class OriginPolicy(IOptions<BrokerOptions> options)
{
    private readonly string[] _allowed = options.Value.AllowedOrigins ?? [];

    public bool IsAllowed(HttpRequest request) => IsAllowed(request.Headers.Origin.ToString(), request.Host.Value);

    /// <summary>The same rule from the raw header values (the WebSocket upgrade below HTTP reads them itself).</summary>
    public bool IsAllowed(string? origin, string? host)
    {
        if (string.IsNullOrEmpty(origin))
        {
            return true;
        }

        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri))
        {
            return false;
        }

        if (uri.IsLoopback || string.Equals(uri.Authority, host, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        foreach (var allowed in _allowed)
        {
            if (allowed == "*" || string.Equals(allowed.TrimEnd('/'), origin.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
