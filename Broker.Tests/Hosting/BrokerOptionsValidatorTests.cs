using Microsoft.Extensions.Options;
using TopicBroker.Hosting;

namespace TopicBroker.Tests.Hosting;

/// <summary>
/// The rules data annotations cannot express. (<see cref="OptionsValidationTests"/> checks, on a
/// real start-up, that a failure stops the broker with the key in the message.)
/// </summary>
[Category("Unit")]
public sealed class BrokerOptionsValidatorTests
{
    [Test]
    public void Defaults_AreValid()
    {
        var options = new BrokerOptions();
        options.ApplyDefaults();

        Assert.That(Failures(options), Is.Empty);
    }

    [Test]
    public void NoTopics_Fails() =>
        Assert.That(Failures(new BrokerOptions { Topics = [] }), Has.Some.Contains("Broker:Topics must name at least one topic"));

    [Test]
    public void BadTopicName_FailsNamingIt() =>
        Assert.That(Failures(Valid(o => o.Topics = ["orders", "Orders!"])), Has.Some.Contains("'Orders!'"));

    [Test]
    public void DuplicateTopic_FailsNamingIt() =>
        Assert.That(Failures(Valid(o => o.Topics = ["orders", "tables", "orders"])), Has.Some.Contains("lists orders more than once"));

    [Test]
    public void RebroadcastTopicNotConfigured_Fails() =>
        Assert.That(Failures(Valid(o => o.RebroadcastTopics = ["nosuch"])), Has.Some.Contains("Broker:RebroadcastTopics names 'nosuch'"));

    [Test]
    public void DeliveryPolicyForAnUnconfiguredTopic_Fails() =>
        Assert.That(
            Failures(Valid(o => o.DeliveryPolicies["nosuch"] = DeliveryPolicy.Latest)),
            Has.Some.Contains("Broker:DeliveryPolicies names 'nosuch'"));

    [TestCase(nameof(BrokerOptions.PingInterval), "Broker:PingInterval")]
    [TestCase(nameof(BrokerOptions.CloseTimeout), "Broker:CloseTimeout")]
    [TestCase(nameof(BrokerOptions.ShutdownTimeout), "Broker:ShutdownTimeout")]
    [TestCase(nameof(BrokerOptions.PollingInterval), "Broker:PollingInterval")]
    [TestCase(nameof(BrokerOptions.HandshakeTimeout), "Broker:HandshakeTimeout")]
    public void ZeroDuration_FailsNamingTheKey(string property, string key)
    {
        var options = Valid(_ => { });
        typeof(BrokerOptions).GetProperty(property)!.SetValue(options, TimeSpan.Zero);

        Assert.That(Failures(options), Has.Some.Contains($"{key} must be a positive duration"));
    }

    [Test]
    public void BridgeIdleTimeoutZero_Fails() =>
        Assert.That(Failures(Valid(o => o.TcpBridge.IdleTimeout = TimeSpan.Zero)), Has.Some.Contains("Broker:TcpBridge:IdleTimeout"));

    [Test]
    public void NegativeReconnectSpread_Fails_ZeroIsFine()
    {
        Assert.That(Failures(Valid(o => o.ShutdownReconnectSpread = TimeSpan.FromSeconds(-1))), Has.Some.Contains("ShutdownReconnectSpread"));
        Assert.That(Failures(Valid(o => o.ShutdownReconnectSpread = TimeSpan.Zero)), Is.Empty);
    }

    [Test]
    public void PongTimeoutNotLongerThanPingInterval_Fails()
    {
        var options = Valid(o =>
        {
            o.PingInterval = TimeSpan.FromSeconds(10);
            o.PongTimeout = TimeSpan.FromSeconds(10);
        });

        Assert.That(Failures(options), Has.Some.Contains("Broker:PongTimeout (00:00:10) must be longer than Broker:PingInterval"));
    }

    [Test]
    public void IngestBatchOverHalfTheSendQueue_Fails_HalfIsFine()
    {
        Assert.That(Failures(Valid(o => (o.SendQueueCapacity, o.MaxIngestBatch) = (100, 51))), Has.Some.Contains("Broker:MaxIngestBatch (51)"));
        Assert.That(Failures(Valid(o => (o.SendQueueCapacity, o.MaxIngestBatch) = (100, 50))), Is.Empty);
    }

    [Test]
    public void ShortSigningKey_Fails_ThirtyTwoBytesIsFine()
    {
        Assert.That(Failures(Valid(o => o.Auth.SigningKey = new string('k', 31))), Has.Some.Contains("at least 32 bytes"));
        Assert.That(Failures(Valid(o => o.Auth.SigningKey = new string('k', 32))), Is.Empty);
    }

    [Test]
    public void BridgeAddressNotAnIp_Fails_UnlessTheBridgeIsOff()
    {
        Assert.That(Failures(Valid(o => o.TcpBridge.Address = "localhost")), Has.Some.Contains("Broker:TcpBridge:Address 'localhost'"));
        Assert.That(Failures(Valid(o => (o.TcpBridge.Address, o.TcpBridge.Enabled) = ("localhost", false))), Is.Empty);
    }

    [Test]
    public void SeveralMistakes_AreAllReported()
    {
        var options = Valid(o =>
        {
            o.Topics = ["orders", "BAD"];
            o.PollingInterval = TimeSpan.Zero;
        });

        Assert.That(Failures(options), Has.Count.GreaterThanOrEqualTo(2));
    }

    private static BrokerOptions Valid(Action<BrokerOptions> change)
    {
        var options = new BrokerOptions { Topics = ["orders", "robots", "status"] };
        options.ApplyDefaults();
        change(options);
        return options;
    }

    private static IEnumerable<string> Failures(BrokerOptions options)
    {
        var result = new BrokerOptionsValidator().Validate(Options.DefaultName, options);
        return result.Failed ? result.Failures : [];
    }
}
