using Microsoft.Extensions.Options;

namespace TopicBroker.Tests.Hosting;

public sealed class OptionsValidationTests
{
    [TestCase("Broker:SendQueueCapacity", "0", "SendQueueCapacity")]
    [TestCase("Broker:PingInterval", "00:00:00", "PingInterval")]
    [TestCase("Broker:PongTimeout", "00:00:01", "PongTimeout")]
    [TestCase("Broker:Topics:0", "Not A Topic!", "Not A Topic!")]
    [TestCase("Broker:TcpBridge:Address", "nowhere", "TcpBridge:Address")]
    [TestCase("Broker:MaxIngestBatch", "8000", "MaxIngestBatch")]
    [TestCase("Broker:RebroadcastTopics:0", "nosuchtopic", "RebroadcastTopics")]
    public void BadValue_StopsStartupWithMessageNamingTheKey(string key, string value, string expected)
    {
        var ex = Assert.ThrowsAsync<OptionsValidationException>(() =>
            BrokerHost.StartAsync(new Dictionary<string, string?> { [key] = value }));

        Assert.That(ex!.Message, Does.Contain(expected));
    }
}
