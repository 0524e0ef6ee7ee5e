using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Security;

namespace TopicBroker.Tests.Security;

/// <summary>An open broker listens on loopback only, unless that is deliberate (protocol.md "Security").</summary>
[Category("Unit")]
public sealed class ExposureValidatorTests
{
    [TestCase("http://127.0.0.1:5000")]
    [TestCase("http://localhost:5000")]
    [TestCase("http://[::1]:5000")]
    [TestCase("http://127.0.0.1:5000;http://localhost:5001")]
    public void Anonymous_OnLoopback_IsAllowed(string urls) =>
        Assert.That(Validate(new() { ["urls"] = urls }).Succeeded, Is.True);

    [TestCase("http://0.0.0.0:5000", "http://0.0.0.0:5000")]
    [TestCase("http://*:5000", "http://*:5000")]
    [TestCase("http://+:5000", "http://+:5000")]
    [TestCase("http://192.168.1.10:5000", "http://192.168.1.10:5000")]
    [TestCase("http://127.0.0.1:5000;http://broker.example:80", "http://broker.example:80")]
    public void Anonymous_OnAnotherAddress_IsRefusedNamingIt(string urls, string exposed)
    {
        var result = Validate(new() { ["urls"] = urls });

        Assert.That(result.Failed, Is.True);
        Assert.That(result.FailureMessage, Does.Contain(exposed).And.Contain("Broker:Auth:AllowAnonymous"));
    }

    [Test]
    public void Anonymous_WithoutUrls_ContainerPortsMeanEveryAddress()
    {
        var result = Validate(new() { ["http_ports"] = "8080" });

        Assert.That(result.FailureMessage, Does.Contain("http://*:8080"));
    }

    [Test]
    public void Anonymous_KestrelEndpointOnAnotherAddress_IsRefused()
    {
        var result = Validate(new() { ["urls"] = "http://127.0.0.1:5000", ["Kestrel:Endpoints:Public:Url"] = "http://10.1.1.1:80" });

        Assert.That(result.FailureMessage, Does.Contain("http://10.1.1.1:80"));
    }

    [Test]
    public void Anonymous_BridgeOnAnotherAddress_IsRefused_UnlessTheBridgeIsOff()
    {
        var loopbackHttp = new Dictionary<string, string?> { ["urls"] = "http://127.0.0.1:5000" };

        Assert.That(Validate(loopbackHttp, o => o.TcpBridge.Address = "0.0.0.0").FailureMessage, Does.Contain("tcp://0.0.0.0:5001"));
        Assert.That(Validate(loopbackHttp, o => (o.TcpBridge.Address, o.TcpBridge.Enabled) = ("0.0.0.0", false)).Succeeded, Is.True);
    }

    [Test]
    public void Exposed_WithASigningKey_OrAllowAnonymous_IsAllowed()
    {
        var exposed = new Dictionary<string, string?> { ["urls"] = "http://0.0.0.0:5000" };

        Assert.That(Validate(exposed, o => o.Auth.SigningKey = new string('k', 32)).Succeeded, Is.True);
        Assert.That(Validate(exposed, o => o.Auth.AllowAnonymous = true).Succeeded, Is.True);
    }

    private static ValidateOptionsResult Validate(Dictionary<string, string?> configuration, Action<BrokerOptions>? change = null)
    {
        var options = new BrokerOptions();
        options.ApplyDefaults();
        change?.Invoke(options);
        var validator = new ExposureValidator(new ConfigurationBuilder().AddInMemoryCollection(configuration).Build());
        return validator.Validate(Options.DefaultName, options);
    }
}
