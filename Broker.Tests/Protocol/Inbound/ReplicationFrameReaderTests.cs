using System.Text;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;

namespace TopicBroker.Tests.Protocol.Inbound;

/// <summary>What a restaurant's replication link sends, as the head office reads it (protocol.md "Sites and upstream replication").</summary>
[Category("Unit")]
public sealed class ReplicationFrameReaderTests
{
    private static readonly Dictionary<string, int> Links = new(StringComparer.Ordinal) { ["nord/orders"] = 1, ["nord/tables"] = 2 };

    [Test]
    public void Update_Upsert_GivesIdSeqAndData()
    {
        var frame = Read("""{"type":"update","topic":"nord/orders","seq":7,"id":"o1","op":"upsert","data":{"status":"new"},"ts":1}""");

        Assert.That(frame.Type, Is.EqualTo(ReplicationFrameType.Update));
        Assert.That((frame.Topic, frame.Seq, frame.Id), Is.EqualTo(("nord/orders", 7L, "o1")));
        Assert.That(Encoding.UTF8.GetString(frame.Data!), Is.EqualTo("""{"status":"new"}"""));
    }

    [Test]
    public void Update_WithoutOp_IsAnUpsert() =>
        Assert.That(Read("""{"type":"update","topic":"nord/orders","seq":1,"id":"o1","data":{}}""").Data, Is.Not.Null);

    [Test]
    public void Update_Delete_HasNoData() =>
        Assert.That(Read("""{"type":"update","topic":"nord/orders","seq":1,"id":"o1","op":"delete","data":{"a":1}}""").Data, Is.Null);

    [Test]
    public void Snapshot_GivesEveryEntity()
    {
        var frame = Read("""{"type":"snapshot","topic":"nord/tables","seq":0,"data":{"t1":{"seats":4},"t2":{}}}""");

        Assert.That(frame.Type, Is.EqualTo(ReplicationFrameType.Snapshot));
        Assert.That(frame.Seq, Is.Zero);
        Assert.That(frame.Entities!.Keys, Is.EquivalentTo(new[] { "t1", "t2" }));
        Assert.That(Encoding.UTF8.GetString(frame.Entities["t1"]), Is.EqualTo("""{"seats":4}"""));
    }

    [Test]
    public void Position_GivesTheLinksTopics_AndIgnoresTheRest()
    {
        var frame = Read("""{"type":"position","topics":{"nord/orders":{"seq":12,"forwarded":10},"nord/tables":{"seq":"x"},"sud/orders":{"seq":3},"nord/menu":5}}""");

        Assert.That(frame.Type, Is.EqualTo(ReplicationFrameType.Position));
        Assert.That(frame.Positions, Is.EqualTo(new[] { ("nord/orders", 12L) }));
    }

    [Test]
    public void Position_WithoutTopics_IsEmpty() =>
        Assert.That(Read("""{"type":"position"}""").Positions, Is.Empty);

    [TestCase("""{"type":"update","topic":"nord/orders","seq":1,"id":"o1","data":""", ErrorCodes.InvalidJson, "The message is not valid JSON.", TestName = "Truncated")]
    [TestCase("""{"type":"update","topic":"\ud800","seq":1}""", ErrorCodes.InvalidJson, "The message is not valid JSON.", TestName = "A lone surrogate")]
    [TestCase("""[]""", ErrorCodes.UnknownType, null, TestName = "Not an object")]
    [TestCase("""{"type":"ack","topic":"nord/orders","seq":1}""", ErrorCodes.UnknownType, null, TestName = "Another type")]
    [TestCase("""{"topic":"nord/orders","seq":1}""", ErrorCodes.UnknownType, null, TestName = "No type")]
    [TestCase("""{"type":"update","topic":"sud/orders","seq":1,"id":"o1","data":{}}""", ErrorCodes.UnknownTopic, null, TestName = "Not the link's topic")]
    [TestCase("""{"type":"update","topic":7,"seq":1,"id":"o1","data":{}}""", ErrorCodes.UnknownTopic, null, TestName = "Topic a number")]
    [TestCase("""{"type":"update","topic":"nord/orders","id":"o1","data":{}}""", ErrorCodes.InvalidJson, "'seq' must be a non-negative integer.", TestName = "No seq")]
    [TestCase("""{"type":"update","topic":"nord/orders","seq":-1,"id":"o1","data":{}}""", ErrorCodes.InvalidJson, "'seq' must be a non-negative integer.", TestName = "Negative seq")]
    [TestCase("""{"type":"update","topic":"nord/orders","seq":"5","id":"o1","data":{}}""", ErrorCodes.InvalidJson, "'seq' must be a non-negative integer.", TestName = "Seq a string")]
    [TestCase("""{"type":"update","topic":"nord/orders","seq":1.5,"id":"o1","data":{}}""", ErrorCodes.InvalidJson, "'seq' must be a non-negative integer.", TestName = "Seq a fraction")]
    [TestCase("""{"type":"update","topic":"nord/orders","seq":0,"id":"o1","data":{}}""", ErrorCodes.InvalidId, null, TestName = "Update at seq 0")]
    [TestCase("""{"type":"update","topic":"nord/orders","seq":1,"id":"","data":{}}""", ErrorCodes.InvalidId, null, TestName = "Empty id")]
    [TestCase("""{"type":"update","topic":"nord/orders","seq":1,"data":{}}""", ErrorCodes.InvalidId, null, TestName = "No id")]
    [TestCase("""{"type":"update","topic":"nord/orders","seq":1,"id":"o1","op":"merge","data":{}}""", ErrorCodes.InvalidOp, "'op' must be \"upsert\" or \"delete\".", TestName = "Unknown op")]
    [TestCase("""{"type":"update","topic":"nord/orders","seq":1,"id":"o1","data":[1]}""", ErrorCodes.InvalidData, "An upsert needs 'data', a JSON object.", TestName = "Data not an object")]
    [TestCase("""{"type":"snapshot","topic":"nord/orders","seq":1,"data":[]}""", ErrorCodes.InvalidData, "A snapshot needs 'data', an object mapping ids to objects.", TestName = "Snapshot data not an object")]
    [TestCase("""{"type":"snapshot","topic":"nord/orders","seq":1,"data":{"o1":1}}""", ErrorCodes.InvalidData, "Every entity of a snapshot needs a valid id and an object.", TestName = "Snapshot entity not an object")]
    [TestCase("""{"type":"snapshot","topic":"nord/orders","seq":1,"data":{"":{}}}""", ErrorCodes.InvalidData, "Every entity of a snapshot needs a valid id and an object.", TestName = "Snapshot entity with an empty id")]
    public void Refused(string message, string code, string? text)
    {
        Assert.That(ReplicationFrameReader.TryRead(Encoding.UTF8.GetBytes(message), Links, out _, out var error), Is.False);
        Assert.That(error.Code, Is.EqualTo(code), error.Message);
        if (text is not null)
        {
            Assert.That(error.Message, Is.EqualTo(text));
        }
    }

    [Test]
    public void Snapshot_EntityIdOverTheLimit_IsRefused()
    {
        var id = new string('i', EntityRules.MaxIdLength + 1);
        var message = """{"type":"snapshot","topic":"nord/orders","seq":1,"data":{""" + $"\"{id}\":{{}}" + "}}";

        Assert.That(ReplicationFrameReader.TryRead(Encoding.UTF8.GetBytes(message), Links, out _, out var error), Is.False);
        Assert.That(error.Code, Is.EqualTo(ErrorCodes.InvalidData));
    }

    private static ReplicationFrame Read(string message)
    {
        Assert.That(ReplicationFrameReader.TryRead(Encoding.UTF8.GetBytes(message), Links, out var frame, out var error), Is.True, () => $"{error.Code} {error.Message}");
        return frame;
    }
}
