using System.Net;
using TopicBroker.Security;

namespace TopicBroker.Tests.Security;

/// <summary>
/// The client address the WebSocket upgrade below HTTP counts a connection as: the same one
/// ForwardedHeadersMiddleware gives a request (docs/operations.md "Behind a reverse proxy").
/// </summary>
[Category("Unit")]
public sealed class TrustedProxyResolutionTests
{
    private static readonly IPAddress s_proxy = IPAddress.Parse("10.0.0.5");

    private static ForwardedClientResolver Resolver() =>
        new(new TrustedProxyOptions { KnownProxies = [s_proxy.ToString()], KnownNetworks = ["192.168.0.0/16"] });

    [TestCase("10.0.0.5", "203.0.113.7", "203.0.113.7", TestName = "From a known proxy: its entry")]
    [TestCase("10.0.0.5", "198.51.100.1, 203.0.113.7", "203.0.113.7", TestName = "Only the last entry, the one the proxy added")]
    [TestCase("10.0.0.5", "203.0.113.7:4711", "203.0.113.7", TestName = "An entry with a port")]
    [TestCase("::ffff:10.0.0.5", "203.0.113.7", "203.0.113.7", TestName = "A known proxy as an IPv4-mapped address")]
    [TestCase("192.168.4.4", "203.0.113.7", "203.0.113.7", TestName = "From a known network")]
    [TestCase("10.0.0.6", "203.0.113.7", "10.0.0.6", TestName = "From anyone else: the header is ignored")]
    [TestCase("10.0.0.5", null, "10.0.0.5", TestName = "No header: the proxy itself")]
    public void Resolves(string remote, string? forwardedFor, string expected)
    {
        Assert.That(Resolver().TryResolve(IPAddress.Parse(remote), forwardedFor, out var client), Is.True);
        Assert.That(client, Is.EqualTo(IPAddress.Parse(expected)));
    }

    [Test]
    public void WithoutTrustedProxies_TheHeaderIsIgnored()
    {
        var resolver = new ForwardedClientResolver(new TrustedProxyOptions());

        Assert.That(resolver.TryResolve(s_proxy, "203.0.113.7", out var client), Is.True);
        Assert.That(client, Is.EqualTo(s_proxy));
    }

    [TestCase("unknown")]
    [TestCase("203.0.113.7, ")]
    public void AnEntryThatIsNotAnAddress_IsLeftToHttp(string forwardedFor) =>
        Assert.That(Resolver().TryResolve(s_proxy, forwardedFor, out _), Is.False);
}
