using System.Text;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Protocol.Inbound;

/// <summary>Publish input as the bridge and HTTP take it (protocol.md "TCP bridge", "HTTP API").</summary>
[Category("Unit")]
public sealed class ChangeReaderTests
{
    private readonly ChangeReader _reader = new(new TopicRegistry(Options.Create(new BrokerOptions { Topics = ["orders", "tables"] })));

    [Test]
    public void Upsert_KeepsTheDataObjectVerbatim()
    {
        var change = Parse("""{"topic":"orders","id":"o1","data":{"status": "new","items":[1, 2]}}""");

        Assert.That(change.Topic.Name, Is.EqualTo("orders"));
        Assert.That(change.Id, Is.EqualTo("o1"));
        Assert.That(Encoding.UTF8.GetString(change.Data!), Is.EqualTo("""{"status": "new","items":[1, 2]}"""));
    }

    [Test]
    public void Upsert_PropertiesInAnyOrder_UnknownOnesIgnored()
    {
        var change = Parse("""{"data":{"a":1},"extra":{"deep":[{"x":1}]},"op":"upsert","id":"o1","topic":"orders","more":3}""");

        Assert.That(change.Id, Is.EqualTo("o1"));
        Assert.That(Encoding.UTF8.GetString(change.Data!), Is.EqualTo("""{"a":1}"""));
    }

    [Test]
    public void Delete_NeedsNoData_AndIgnoresAny()
    {
        Assert.That(Parse("""{"topic":"orders","id":"o1","op":"delete"}""").Data, Is.Null);
        Assert.That(Parse("""{"topic":"orders","id":"o1","op":"delete","data":{"a":1}}""").Data, Is.Null);
    }

    [Test]
    public void Id_WithEscapes_IsUnescaped() =>
        Assert.That(Parse("""{"topic":"orders","id":"table\/7 \u00e9","data":{}}""").Id, Is.EqualTo("table/7 é"));

    [TestCase("""[1,2]""", TestName = "An array")]
    [TestCase("""{"topic":"orders",""", TestName = "Truncated")]
    [TestCase("""{"topic":"orders","id":"o1","data":{}} {}""", TestName = "Two objects")]
    [TestCase("""{"topic":"orders","id":"o1","data":{}} x""", TestName = "Trailing garbage")]
    [TestCase("""{'topic':'orders'}""", TestName = "Single quotes")]
    [TestCase("""{"topic":"orders","id":"\ud800","data":{}}""", TestName = "A lone surrogate in a string")]
    [TestCase("", TestName = "Empty")]
    public void NotOneJsonObject_IsInvalidJson(string line) => AssertRejected(line, ErrorCodes.InvalidJson);

    [Test]
    public void InvalidUtf8_IsInvalidJson() =>
        AssertRejected([.. """{"topic":"orders","id":"""u8, 0xC3, 0x28, .. "\"}"u8], ErrorCodes.InvalidJson, "UTF-8");

    [Test]
    public void NestingDeeperThan64_IsInvalidJson() =>
        AssertRejected("""{"topic":"orders","id":"o1","data":""" + string.Concat(Enumerable.Repeat("""{"a":""", 70)) + "1" + new string('}', 71), ErrorCodes.InvalidJson);

    [TestCase("""{"id":"o1","data":{}}""", "'topic' is missing.")]
    [TestCase("""{"topic":"nosuch","id":"o1","data":{}}""", "Unknown topic 'nosuch'.")]
    [TestCase("""{"topic":7,"id":"o1","data":{}}""", "'topic' must be a string.")]
    public void BadTopic_IsUnknownTopic(string line, string message) => AssertRejected(line, ErrorCodes.UnknownTopic, message);

    [Test]
    public void LongUnknownTopic_IsClippedInTheMessage()
    {
        var error = Reject(Line(topic: new string('x', 300), id: "o1"));

        Assert.That(error.Message, Has.Length.LessThan(100));
    }

    [TestCase("""{"topic":"orders","data":{}}""", TestName = "Missing")]
    [TestCase("""{"topic":"orders","id":"","data":{}}""", TestName = "Empty")]
    [TestCase("""{"topic":"orders","id":7,"data":{}}""", TestName = "A number")]
    [TestCase("""{"topic":"orders","id":null,"data":{}}""", TestName = "Null")]
    public void BadId_IsInvalidId(string line) => AssertRejected(line, ErrorCodes.InvalidId);

    [Test]
    public void Id_OfMaxLength_IsAccepted_OneMoreIsNot()
    {
        Assert.That(Parse(Line("orders", new string('i', EntityRules.MaxIdLength))).Id, Has.Length.EqualTo(256));
        AssertRejected(Line("orders", new string('i', EntityRules.MaxIdLength + 1)), ErrorCodes.InvalidId);
    }

    [Test]
    public void Op_Upsert_IsAnUpsert_AndAnEscapedOpReadsAsWritten()
    {
        Assert.That(Parse("""{"topic":"orders","id":"o1","op":"upsert","data":{"a":1}}""").Data, Is.Not.Null);
        Assert.That(Parse("""{"topic":"orders","id":"o1","op":"del\u0065te"}""").Data, Is.Null);
    }

    [Test]
    public void Op_WithALoneSurrogate_IsInvalidJson() =>
        AssertRejected("""{"topic":"orders","id":"o1","op":"\ud800"}""", ErrorCodes.InvalidJson, "The line holds an invalid string.");

    [Test]
    public void SiteTopic_IsReplicatedTopic_WhenSitesAreOn()
    {
        var options = new BrokerOptions { Topics = ["orders"] };
        options.Sites.Enabled = true;
        var reader = new ChangeReader(new TopicRegistry(Options.Create(options)));

        Assert.That(reader.TryReadLine("""{"topic":"nord/orders","id":"o1","data":{}}"""u8, out _, out var error), Is.False);
        Assert.That(error.Code, Is.EqualTo(ErrorCodes.ReplicatedTopic));
        Assert.That(error.Message, Does.Contain("site 'nord'"));
    }

    [TestCase("""{"topic":"orders","id":"o1","op":"merge","data":{}}""", TestName = "Unknown op")]
    [TestCase("""{"topic":"orders","id":"o1","op":"DELETE"}""", TestName = "Op in capitals")]
    [TestCase("""{"topic":"orders","id":"o1","op":1,"data":{}}""", TestName = "Op a number")]
    public void BadOp_IsInvalidOp(string line) => AssertRejected(line, ErrorCodes.InvalidOp);

    [TestCase("""{"topic":"orders","id":"o1"}""", "An upsert needs 'data', a JSON object.")]
    [TestCase("""{"topic":"orders","id":"o1","data":null}""", "An upsert needs 'data', a JSON object.")]
    [TestCase("""{"topic":"orders","id":"o1","data":[1]}""", "'data' must be a JSON object.")]
    [TestCase("""{"topic":"orders","id":"o1","data":"text"}""", "'data' must be a JSON object.")]
    public void BadData_IsInvalidData(string line, string message) => AssertRejected(line, ErrorCodes.InvalidData, message);

    [Test]
    public void SeveralMistakes_TheTopicIsReportedFirst_ThenTheId_ThenTheOp()
    {
        AssertRejected("""{"topic":"nosuch","id":"","op":"x","data":[]}""", ErrorCodes.UnknownTopic);
        AssertRejected("""{"topic":"orders","id":"","op":"x","data":[]}""", ErrorCodes.InvalidId);
        AssertRejected("""{"topic":"orders","id":"o1","op":"x","data":[]}""", ErrorCodes.InvalidOp);
    }

    [TestCase("""{"status":"new"}""", null)]
    [TestCase("""  {}  """, null)]
    [TestCase("""[1]""", ErrorCodes.InvalidData)]
    [TestCase("""42""", ErrorCodes.InvalidData)]
    [TestCase("", ErrorCodes.InvalidJson)]
    [TestCase("""{} {}""", ErrorCodes.InvalidJson)]
    [TestCase("""{"a":""", ErrorCodes.InvalidJson)]
    public void HttpBody_MustBeOneJsonObject(string body, string? expected)
    {
        var ok = ChangeReader.TryReadBody(Encoding.UTF8.GetBytes(body), out var error);

        Assert.That(ok, Is.EqualTo(expected is null));
        Assert.That(error.Code, Is.EqualTo(expected));
    }

    [TestCase("", "The body is not valid JSON.")]
    [TestCase("""{} {}""", "The body is not valid JSON.")]
    [TestCase("""{"a":""", "The body is not valid JSON.")]
    [TestCase("""[1]""", "The body must be a JSON object.")]
    public void HttpBody_Rejected_SaysWhy(string body, string message)
    {
        ChangeReader.TryReadBody(Encoding.UTF8.GetBytes(body), out var error);

        Assert.That(error.Message, Is.EqualTo(message));
    }

    [Test]
    public void HttpBody_InvalidUtf8_IsInvalidJson()
    {
        Assert.That(ChangeReader.TryReadBody([(byte)'{', 0xFF, (byte)'}'], out var error), Is.False);
        Assert.That(error.Code, Is.EqualTo(ErrorCodes.InvalidJson));
        Assert.That(error.Message, Is.EqualTo("The body is not valid UTF-8."));
    }

    [Test]
    public void TryGetTopic_AConfiguredTopic()
    {
        Assert.That(_reader.TryGetTopic("tables", out var topic, out _), Is.True);
        Assert.That(topic.Name, Is.EqualTo("tables"));
    }

    [TestCase(null, "'topic' is missing.")]
    [TestCase("nosuch", "Unknown topic 'nosuch'.")]
    public void TryGetTopic_Unknown_IsUnknownTopic(string? name, string message)
    {
        Assert.That(_reader.TryGetTopic(name, out _, out var error), Is.False);
        Assert.That(error, Is.EqualTo(new InboundError(ErrorCodes.UnknownTopic, message)));
    }

    private static string Line(string topic, string id) => $$"""{"topic":"{{topic}}","id":"{{id}}","data":{"a":1}""" + "}";

    private InboundChange Parse(string line)
    {
        var ok = _reader.TryReadLine(Encoding.UTF8.GetBytes(line), out var change, out var error);
        Assert.That(ok, Is.True, () => $"rejected: {error.Code} {error.Message}");
        return change;
    }

    private InboundError Reject(string line) => Reject(Encoding.UTF8.GetBytes(line));

    private InboundError Reject(byte[] line)
    {
        var ok = _reader.TryReadLine(line, out _, out var error);
        Assert.That(ok, Is.False, "accepted");
        return error;
    }

    private void AssertRejected(string line, string code, string? message = null) => AssertRejected(Encoding.UTF8.GetBytes(line), code, message);

    private void AssertRejected(byte[] line, string code, string? message = null)
    {
        var error = Reject(line);
        Assert.That(error.Code, Is.EqualTo(code), () => error.Message);
        if (message is not null)
        {
            Assert.That(error.Message, Does.Contain(message));
        }
    }
}
