using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Security;

namespace TopicBroker.Tests.Security;

/// <summary>Which pages may open a WebSocket (protocol.md "Security": cross-site WebSocket hijacking).</summary>
[Category("Unit")]
public sealed class OriginPolicyTests
{
    [TestCase(null, TestName = "No Origin (not a browser)")]
    [TestCase("http://broker.example:5000", TestName = "The broker's own origin")]
    [TestCase("HTTP://BROKER.EXAMPLE:5000", TestName = "The broker's own origin, any case")]
    [TestCase("http://localhost:3000", TestName = "localhost, any port")]
    [TestCase("http://127.0.0.1:8080", TestName = "IPv4 loopback")]
    [TestCase("http://[::1]:8080", TestName = "IPv6 loopback")]
    public void Allowed_WithoutConfiguration(string? origin) =>
        Assert.That(Policy().IsAllowed(Request(origin)), Is.True);

    [TestCase("http://evil.example", TestName = "Another site")]
    [TestCase("http://broker.example:5001", TestName = "The broker's host on another port")]
    [TestCase("https://broker.example:5000.evil.example", TestName = "The broker's origin as a prefix")]
    [TestCase("null", TestName = "An opaque origin (sandboxed frame, file:)")]
    [TestCase("not a url", TestName = "Not a URL")]
    public void Refused_WithoutConfiguration(string origin) =>
        Assert.That(Policy().IsAllowed(Request(origin)), Is.False);

    [TestCase("https://screens.example", true)]
    [TestCase("https://screens.example/", true)]
    [TestCase("HTTPS://SCREENS.EXAMPLE", true)]
    [TestCase("http://screens.example", false)]
    [TestCase("https://screens.example:8443", false)]
    public void AllowedOrigins_MatchSchemeHostAndPort(string origin, bool expected) =>
        Assert.That(Policy("https://screens.example/").IsAllowed(Request(origin)), Is.EqualTo(expected));

    [Test]
    public void Star_AllowsEveryOrigin() =>
        Assert.That(Policy("*").IsAllowed(Request("http://evil.example")), Is.True);

    private static OriginPolicy Policy(params string[] allowed) =>
        new(Options.Create(new BrokerOptions { AllowedOrigins = allowed }));

    private static HttpRequest Request(string? origin)
    {
        var context = new DefaultHttpContext();
        context.Request.Host = new HostString("broker.example:5000");
        if (origin is not null)
        {
            context.Request.Headers.Origin = origin;
        }

        return context.Request;
    }
}
