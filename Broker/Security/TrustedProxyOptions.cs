using System.Net;
using Microsoft.Extensions.Options;

namespace TopicBroker.Security;

/// <summary>
/// The reverse proxies (nginx, a load balancer) whose <c>X-Forwarded-For</c> and
/// <c>X-Forwarded-Proto</c> the broker believes (docs/operations.md "Behind a reverse proxy").
/// A request from one of them counts as coming from the address the proxy names: per-address
/// connection limits, logs and status see the real client. From any other address the headers
/// are ignored, so a client cannot pick the address it is counted as. None by default.
/// </summary>
public sealed class TrustedProxyOptions
{
    public const string SectionName = "Broker:ForwardedHeaders";

    /// <summary>Proxy addresses, for example <c>127.0.0.1</c> for an nginx on the same host.</summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Proxy networks in CIDR notation, for example <c>10.0.0.0/8</c>.</summary>
    public string[] KnownNetworks { get; set; } = [];

    internal bool Enabled => KnownProxies.Length > 0 || KnownNetworks.Length > 0;

    internal IEnumerable<IPAddress> ParsedProxies() => KnownProxies.Select(IPAddress.Parse);

    internal IEnumerable<IPNetwork> ParsedNetworks() => KnownNetworks.Select(n => IPNetwork.Parse(n));
}

/// <summary>Every entry must parse; a bad one stops the broker at start, naming the key.</summary>
internal sealed class TrustedProxyOptionsValidator : IValidateOptions<TrustedProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, TrustedProxyOptions options)
    {
        var errors = new List<string>();
        for (var i = 0; i < options.KnownProxies.Length; i++)
        {
            if (!IPAddress.TryParse(options.KnownProxies[i], out _))
            {
                errors.Add($"{TrustedProxyOptions.SectionName}:KnownProxies:{i} '{options.KnownProxies[i]}' is not an IP address");
            }
        }

        for (var i = 0; i < options.KnownNetworks.Length; i++)
        {
            if (!IPNetwork.TryParse(options.KnownNetworks[i], out _))
            {
                errors.Add($"{TrustedProxyOptions.SectionName}:KnownNetworks:{i} '{options.KnownNetworks[i]}' is not a network in CIDR notation (10.0.0.0/8)");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
