using System.Text;
using TopicBroker.Protocol.Inbound;

namespace TopicBroker.Tests.Protocol.Inbound;

/// <summary>What a head office sends on a replication link, as the restaurant reads it (protocol.md "The upstream link").</summary>
[Category("Unit")]
public sealed class HeadOfficeMessageReaderTests
{
    [Test]
    public void Welcome_GivesEveryTopicsSeq()
    {
        var welcome = Read("""{"type":"welcome","site":"site-1","topics":{"orders":{"seq":41,"more":[1]},"robots":{"seq":0}}}""");

        Assert.That(welcome.Type, Is.EqualTo(HeadOfficeMessageType.Welcome));
        Assert.That(welcome.Topics, Is.EqualTo(new Dictionary<string, long> { ["orders"] = 41, ["robots"] = 0 }));
    }

    [Test]
    public void Ack_GivesTopicAndSeq()
    {
        var ack = Read("""{"type":"ack","topic":"orders","seq":50}""");

        Assert.That((ack.Type, ack.Topic, ack.Seq), Is.EqualTo((HeadOfficeMessageType.Ack, "orders", 50L)));
    }

    [Test]
    public void Error_GivesCodeAndMessage_WithOrWithoutATopic()
    {
        var error = Read("""{"type":"error","topic":null,"data":{"code":"seq_gap","message":"held 3, got 5"}}""");

        Assert.That((error.Type, error.Topic, error.ErrorCode, error.ErrorMessage), Is.EqualTo((HeadOfficeMessageType.Error, (string?)null, "seq_gap", "held 3, got 5")));
    }

    [TestCase("", "invalid_json")]
    [TestCase("not json", "invalid_json")]
    [TestCase("[1]", "invalid_json")]
    [TestCase("42", "invalid_json")]
    [TestCase("""{"type":"ack","topic":"orders","seq":1}{}""", "invalid_json")]
    [TestCase("""{"type":"ack","topic":"orders","seq":1""", "invalid_json")]
    [TestCase("""{"type":"ack","topic":"\ud800","seq":1}""", "invalid_json")]
    [TestCase("""{"topic":"orders","seq":1}""", "missing_type")]
    [TestCase("""{"type":1}""", "unknown_type")]
    [TestCase("""{"type":"surprise"}""", "unknown_type")]
    [TestCase("""{"type":"ack","topic":"orders","seq":"x"}""", "invalid_json")]
    [TestCase("""{"type":"ack","topic":"orders","seq":1.5}""", "invalid_json")]
    [TestCase("""{"type":"ack","topic":"orders","seq":-1}""", "invalid_json")]
    [TestCase("""{"type":"ack","topic":"orders","seq":99999999999999999999}""", "invalid_json")]
    [TestCase("""{"type":"ack","topic":"orders"}""", "invalid_json")]
    [TestCase("""{"type":"ack","seq":1}""", "unknown_topic")]
    [TestCase("""{"type":"ack","topic":7,"seq":1}""", "unknown_topic")]
    [TestCase("""{"type":"welcome"}""", "invalid_data")]
    [TestCase("""{"type":"welcome","topics":["orders"]}""", "invalid_data")]
    [TestCase("""{"type":"welcome","topics":{"orders":1}}""", "invalid_data")]
    [TestCase("""{"type":"welcome","topics":{"orders":{}}}""", "invalid_data")]
    [TestCase("""{"type":"welcome","topics":{"orders":{"seq":"x"}}}""", "invalid_data")]
    [TestCase("""{"type":"welcome","topics":{"orders":{"seq":2.5}}}""", "invalid_data")]
    [TestCase("""{"type":"error"}""", "invalid_data")]
    [TestCase("""{"type":"error","data":"seq_gap"}""", "invalid_data")]
    [TestCase("""{"type":"error","data":{"code":5}}""", "invalid_data")]
    public void Malformed_IsRefusedWithACode_NeverThrown(string message, string code)
    {
        Assert.That(HeadOfficeMessageReader.TryRead(Encoding.UTF8.GetBytes(message), out _, out var error), Is.False);
        Assert.That(error.Code, Is.EqualTo(code), error.Message);
    }

    [Test]
    public void NotUtf8_IsRefused() =>
        Assert.That(HeadOfficeMessageReader.TryRead([(byte)'{', 0xff, (byte)'}'], out _, out _), Is.False);

    private static HeadOfficeMessage Read(string message)
    {
        Assert.That(HeadOfficeMessageReader.TryRead(Encoding.UTF8.GetBytes(message), out var result, out var error), Is.True, () => $"{error.Code} {error.Message}");
        return result;
    }
}
