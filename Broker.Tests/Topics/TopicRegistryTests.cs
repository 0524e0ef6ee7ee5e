using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Topics;

public sealed class TopicRegistryTests
{
    private static TopicRegistry Create(bool sites = true, int maxSites = 10)
    {
        var options = new BrokerOptions { Topics = ["robots", "orders"] };
        options.Sites.Enabled = sites;
        options.Sites.MaxSites = maxSites;
        options.ApplyDefaults();
        return new TopicRegistry(Options.Create(options));
    }

    [TestCase("site-12", true)]
    [TestCase("a", true)]
    [TestCase("0-9", true)]
    [TestCase("-a", false)]
    [TestCase("A1", false)]
    [TestCase("a_b", false)]
    [TestCase("", false)]
    public void IsValidSite_FollowsTheNamingRule(string site, bool valid) =>
        Assert.That(SiteTopicName.IsValidSite(site), Is.EqualTo(valid));

    [Test]
    public void IsValidSite_AllowsAtMost63Characters()
    {
        Assert.That(SiteTopicName.IsValidSite(new string('a', 63)), Is.True);
        Assert.That(SiteTopicName.IsValidSite(new string('a', 64)), Is.False);
    }

    [Test]
    public void TryResolve_NewSite_AddsAllItsTopicsAtTheEndOfAll()
    {
        var registry = Create();
        var before = registry.All;

        Assert.That(registry.TryResolve("site-1/orders", out var topic), Is.EqualTo(TopicLookup.Found));

        Assert.That(topic!.Name, Is.EqualTo("site-1/orders"));
        Assert.That(registry.All.Select(t => t.Name), Is.EqualTo(new[] { "orders", "robots", "site-1/orders", "site-1/robots" }));
        Assert.That(before.Select(t => t.Name), Is.EqualTo(new[] { "orders", "robots" }), "an earlier copy of All is unchanged");
        Assert.That(registry.TryGet("site-1/robots", out var robots) && robots.Seq == 0, Is.True);
    }

    [Test]
    public void TryResolve_PastMaxSites_IsRefusedAndCreatesNothing()
    {
        var registry = Create(maxSites: 1);
        Assert.That(registry.TryResolve("a/orders", out _), Is.EqualTo(TopicLookup.Found));
        Assert.That(registry.TryResolve("a/robots", out _), Is.EqualTo(TopicLookup.Found), "an existing site is not a new one");

        Assert.That(registry.TryResolve("b/orders", out var topic), Is.EqualTo(TopicLookup.TooManySites));
        Assert.That(topic, Is.Null);
        Assert.That(registry.Sites, Is.EqualTo(new[] { "a" }));
    }

    [TestCase("site-1/nope")]
    [TestCase("site-1/")]
    [TestCase("/orders")]
    [TestCase("site-1/orders/x")]
    [TestCase("nope")]
    public void TryResolve_NotASiteOfAConfiguredTopic_IsUnknown(string name) =>
        Assert.That(Create().TryResolve(name, out _), Is.EqualTo(TopicLookup.Unknown));

    [Test]
    public void TryResolve_SitesDisabled_IsUnknown() =>
        Assert.That(Create(sites: false).TryResolve("site-1/orders", out _), Is.EqualTo(TopicLookup.Unknown));

    [Test]
    public void HistoryRing_GrowsAsChangesArrive_AndReplaysAcrossTheGrowth()
    {
        var ring = new HistoryRing(100);
        for (var seq = 1; seq <= 40; seq++)
        {
            ring.Add(FrameSerializer.Update("t", seq, "a", null));
        }

        var replayed = new List<long>();
        Assert.That(ring.TryReplayAfter(10, 40, replayed, (list, frame) => { list.Add(frame.Seq); return true; }), Is.True);
        Assert.That(replayed, Is.EqualTo(Enumerable.Range(11, 30).Select(i => (long)i)));

        for (var seq = 41; seq <= 150; seq++)
        {
            ring.Add(FrameSerializer.Update("t", seq, "a", null));
        }

        Assert.That(ring.Count, Is.EqualTo(100));
        Assert.That(ring.OldestSeq, Is.EqualTo(51));
    }
}
