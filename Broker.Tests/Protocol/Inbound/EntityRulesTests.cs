using System.Text;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;

namespace TopicBroker.Tests.Protocol.Inbound;

/// <summary>What an entity must be, from any source: the id and data rules (protocol.md "TCP bridge", "HTTP API").</summary>
[Category("Unit")]
public sealed class EntityRulesTests
{
    [TestCase("o1")]
    [TestCase("table/7 é")]
    [TestCase(" ")]
    public void Id_NonEmptyUpTo256_IsValid(string id) => Assert.That(EntityRules.IsValidId(id), Is.True);

    [Test]
    public void Id_OfMaxLength_IsValid_OneMoreIsNot()
    {
        Assert.That(EntityRules.IsValidId(new string('i', EntityRules.MaxIdLength)), Is.True);
        Assert.That(EntityRules.IsValidId(new string('i', EntityRules.MaxIdLength + 1)), Is.False);
    }

    [TestCase(null)]
    [TestCase("")]
    public void Id_NullOrEmpty_IsInvalid(string? id)
    {
        Assert.That(EntityRules.TryValidateId(id, out var error), Is.False);
        Assert.That(error, Is.EqualTo(new InboundError(ErrorCodes.InvalidId, "'id' must be a non-empty string of at most 256 characters.")));
    }

    [Test]
    public void Id_Valid_HasNoError()
    {
        Assert.That(EntityRules.TryValidateId("o1", out var error), Is.True);
        Assert.That(error, Is.EqualTo(default(InboundError)));
    }

    [TestCase("""{}""", nameof(DataShape.Object))]
    [TestCase("""  {"a":[1,{"b":null}]}  """, nameof(DataShape.Object))]
    [TestCase("", nameof(DataShape.NotJson))]
    [TestCase("   ", nameof(DataShape.NotJson))]
    [TestCase("""[1]""", nameof(DataShape.NotObject))]
    [TestCase("""42""", nameof(DataShape.NotObject))]
    [TestCase("""null""", nameof(DataShape.NotObject))]
    [TestCase("""{} {}""", nameof(DataShape.NotJson))]
    [TestCase("""1 2""", nameof(DataShape.NotJson))]
    [TestCase("""{"a":""", nameof(DataShape.NotJson))]
    [TestCase("""[1""", nameof(DataShape.NotJson))]
    [TestCase("""{'a':1}""", nameof(DataShape.NotJson))]
    [TestCase("""{"a":1,}""", nameof(DataShape.NotJson))]
    [TestCase("""{} x""", nameof(DataShape.NotJson))]
    public void Data_Shape(string data, string expected)
    {
        var shape = Enum.Parse<DataShape>(expected);
        Assert.That(EntityRules.CheckData(Encoding.UTF8.GetBytes(data)), Is.EqualTo(shape));
        Assert.That(EntityRules.IsJsonObject(Encoding.UTF8.GetBytes(data)), Is.EqualTo(shape == DataShape.Object));
    }

    [Test]
    public void Data_InvalidUtf8_IsNotUtf8() =>
        Assert.That(EntityRules.CheckData([(byte)'{', 0xFF, (byte)'}']), Is.EqualTo(DataShape.NotUtf8));

    [Test]
    public void Data_NestedAt64_IsAnObject_At65_IsNotJson()
    {
        Assert.That(EntityRules.CheckData(Nested(64)), Is.EqualTo(DataShape.Object));
        Assert.That(EntityRules.CheckData(Nested(65)), Is.EqualTo(DataShape.NotJson));
    }

    private static byte[] Nested(int depth) =>
        Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("""{"a":""", depth - 1)) + "{}" + new string('}', depth - 1));
}
