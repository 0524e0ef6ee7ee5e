using TopicBroker.Topics;

namespace TopicBroker.Tests.Topics;

[Category("Unit")]
public sealed class TopicNameTests
{
    [TestCase("robots")]
    [TestCase("video_streams")]
    [TestCase("kitchen-2")]
    [TestCase("a")]
    [TestCase("0123456789012345678901234567890123456789012345678901234567890123")] // 64 characters
    public void Valid(string name) => Assert.That(TopicName.IsValid(name), Is.True);

    [TestCase(null)]
    [TestCase("")]
    [TestCase("Robots")]
    [TestCase("robots/1")]
    [TestCase("robots ")]
    [TestCase("café")]
    [TestCase("01234567890123456789012345678901234567890123456789012345678901234")] // 65 characters
    public void Invalid(string? name) => Assert.That(TopicName.IsValid(name), Is.False);
}
