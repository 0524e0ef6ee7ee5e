using TopicBroker.Topics;

namespace TopicBroker.Tests.Topics;

/// <summary>A topic's connection slots (Broker:MaxConnectionsPerTopic).</summary>
[Category("Unit")]
public sealed class TopicSlotTests
{
    [Test]
    public void TryReserveSlot_UpToTheCap_ThenRefuses()
    {
        var topic = new TopicState("orders", historySize: 4);

        Assert.That(topic.TryReserveSlot(2), Is.True);
        Assert.That(topic.TryReserveSlot(2), Is.True);
        Assert.That(topic.TryReserveSlot(2), Is.False);
        Assert.That(topic.TryReserveSlot(2), Is.False, "a refusal must not hold a slot");
    }

    [Test]
    public void ReleaseSlot_FreesExactlyOneSlot()
    {
        var topic = new TopicState("orders", historySize: 4);
        topic.TryReserveSlot(2);
        topic.TryReserveSlot(2);

        topic.ReleaseSlot();

        Assert.That(topic.TryReserveSlot(2), Is.True);
        Assert.That(topic.TryReserveSlot(2), Is.False);
    }

    [Test]
    public void TryReserveSlot_RacingThreads_NeverPassTheCap()
    {
        var topic = new TopicState("orders", historySize: 4);
        var granted = 0;

        Parallel.For(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            if (topic.TryReserveSlot(100))
            {
                Interlocked.Increment(ref granted);
            }
        });

        Assert.That(granted, Is.EqualTo(100));
    }
}
