using TopicBroker.Protocol;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Topics;

[Category("Unit")]
public sealed class HistoryRingTests
{
    [Test]
    public void Empty_HoldsNothing_AndReplaysOnlyWhenTheClientIsCurrent()
    {
        var ring = new HistoryRing(4);

        Assert.That(ring.Count, Is.Zero);
        Assert.That(ring.OldestSeq, Is.Zero);
        Assert.That(Replay(ring, since: 0, currentSeq: 0), Is.Empty, "a client at the current seq is owed nothing");
        Assert.That(Replay(ring, since: 0, currentSeq: 3), Is.Null, "an empty ring cannot replay seqs 1-3");
    }

    [Test]
    public void ReplayAfter_HandsTheFramesAfterSince_InSeqOrder()
    {
        var ring = Filled(capacity: 8, lastSeq: 5);

        Assert.That(Replay(ring, since: 2, currentSeq: 5), Is.EqualTo(new long[] { 3, 4, 5 }));
        Assert.That(Replay(ring, since: 0, currentSeq: 5), Is.EqualTo(new long[] { 1, 2, 3, 4, 5 }), "since one before the oldest replays everything");
        Assert.That(Replay(ring, since: 5, currentSeq: 5), Is.Empty);
    }

    [Test]
    public void Full_KeepsTheNewestCapacityFrames_AcrossTheWrap()
    {
        var ring = Filled(capacity: 4, lastSeq: 11);

        Assert.That(ring.Count, Is.EqualTo(4));
        Assert.That(ring.OldestSeq, Is.EqualTo(8));
        Assert.That(Replay(ring, since: 7, currentSeq: 11), Is.EqualTo(new long[] { 8, 9, 10, 11 }));
        Assert.That(Replay(ring, since: 9, currentSeq: 11), Is.EqualTo(new long[] { 10, 11 }));
    }

    [Test]
    public void ReplayAfter_SinceOlderThanTheRing_HandsNothing_AndSaysSo()
    {
        var ring = Filled(capacity: 4, lastSeq: 11);

        Assert.That(Replay(ring, since: 6, currentSeq: 11), Is.Null, "seq 7 fell out of the ring: the client needs a snapshot");
    }

    [Test]
    public void ReplayAfter_SinceAheadOfTheTopic_HandsNothing_AndSaysSo()
    {
        var ring = Filled(capacity: 4, lastSeq: 3);

        Assert.That(Replay(ring, since: 4, currentSeq: 3), Is.Null, "a since from another database (or the future) cannot be resumed");
    }

    [Test]
    public void ReplayAfter_SinkThatRefuses_StopsTheReplay()
    {
        var ring = Filled(capacity: 8, lastSeq: 6);
        var handed = new List<long>();

        var reached = ring.TryReplayAfter(0, 6, handed, static (list, frame) =>
        {
            list.Add(frame.Seq);
            return list.Count < 2;
        });

        Assert.That(reached, Is.True, "the ring did reach back; it was the sink that stopped");
        Assert.That(handed, Is.EqualTo(new long[] { 1, 2 }));
    }

    private static HistoryRing Filled(int capacity, long lastSeq)
    {
        var ring = new HistoryRing(capacity);
        for (var seq = 1L; seq <= lastSeq; seq++)
        {
            ring.Add(FrameSerializer.Update("orders", seq, $"o{seq}", """{"n":1}"""u8.ToArray()));
        }

        return ring;
    }

    /// <summary>The seqs handed to the sink, or null when the ring says it cannot reach back.</summary>
    private static long[]? Replay(HistoryRing ring, long since, long currentSeq)
    {
        var handed = new List<long>();
        var reached = ring.TryReplayAfter(since, currentSeq, handed, static (list, frame) =>
        {
            list.Add(frame.Seq);
            return true;
        });
        if (!reached)
        {
            Assert.That(handed, Is.Empty, "a ring that cannot reach back hands nothing");
            return null;
        }

        return [.. handed];
    }
}
