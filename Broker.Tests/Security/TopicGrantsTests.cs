using TopicBroker.Security;

namespace TopicBroker.Tests.Security;

[Category("Unit")]
public sealed class TopicGrantsTests
{
    [TestCase("*", "orders", true)]
    [TestCase("orders", "orders", true)]
    [TestCase("orders", "orders2", false)]
    [TestCase("orders", "Orders", false)]
    [TestCase("kitchen-*", "kitchen-", true)]
    [TestCase("kitchen-*", "kitchen-2", true)]
    [TestCase("kitchen-*", "kitchen", false)]
    [TestCase("kitchen-*", "bar-kitchen-2", false)]
    public void Pattern_MatchesTopic(string pattern, string topic, bool expected)
    {
        var grants = new TopicGrants([pattern], [pattern]);

        Assert.That(grants.MaySubscribe(topic), Is.EqualTo(expected));
        Assert.That(grants.MayPublish(topic), Is.EqualTo(expected));
    }

    [Test]
    public void SubscribeAndPublish_AreGrantedSeparately()
    {
        var grants = new TopicGrants(["orders", "tables"], ["orders"]);

        Assert.That(grants.MaySubscribe("tables"), Is.True);
        Assert.That(grants.MayPublish("tables"), Is.False);
        Assert.That(grants.MayPublish("orders"), Is.True);
    }

    [Test]
    public void NoPatterns_AllowNothing()
    {
        var grants = new TopicGrants([], []);

        Assert.That(grants.MaySubscribe("orders"), Is.False);
        Assert.That(grants.MayPublish("orders"), Is.False);
    }

    [Test]
    public void Anonymous_AllowsEverything()
    {
        Assert.That(TopicGrants.Anonymous.MaySubscribe("anything"), Is.True);
        Assert.That(TopicGrants.Anonymous.MayPublish("anything"), Is.True);
    }
}
