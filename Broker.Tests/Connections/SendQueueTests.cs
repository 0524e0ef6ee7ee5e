using System.Text;
using TopicBroker.Connections;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Topics;

namespace TopicBroker.Tests.Connections;

/// <summary>The per-connection queue and its delivery policies on their own, without a socket (protocol.md "Frames", slow consumers).</summary>
public sealed class SendQueueTests
{
    private TopicCounters _counters = null!;

    [SetUp]
    public void CreateCounters() => _counters = new TopicCounters();

    [Test]
    public void Deliver_FirstFrameWakesTheConsumer_LaterOnesDoNot_UntilItHasFoundTheQueueEmpty()
    {
        var queue = new SendQueue(8, DeliveryPolicy.Disconnect, _counters);

        Assert.That(queue.Deliver(Update(1)), Is.EqualTo(EnqueueResult.QueuedWake));
        Assert.That(queue.Deliver(Update(2)), Is.EqualTo(EnqueueResult.Queued));
        var batch = new List<OutboundFrame>();
        Assert.That(queue.TakeBatch(batch), Is.True);
        Assert.That(queue.Deliver(Update(3)), Is.EqualTo(EnqueueResult.Queued), "the consumer has not parked yet");
        Assert.That(queue.TakeBatch(batch), Is.True);
        Assert.That(queue.TakeBatch(batch), Is.False);

        Assert.That(queue.Deliver(Update(4)), Is.EqualTo(EnqueueResult.QueuedWake));
        Assert.That(batch.Select(f => f.Seq), Is.EqualTo(new long[] { 1, 2, 3 }));
    }

    [Test]
    public void Disconnect_FullQueue_Overflows_CountsWhatItDrops_AndTakesNothingMore()
    {
        var queue = new SendQueue(3, DeliveryPolicy.Disconnect, _counters);
        for (var seq = 1; seq <= 3; seq++)
        {
            queue.Deliver(Update(seq));
        }

        Assert.That(queue.Deliver(Update(4)), Is.EqualTo(EnqueueResult.Overflowed));
        Assert.That(queue.Deliver(Update(5)), Is.EqualTo(EnqueueResult.Ignored), "no frame after the overflow, so no gap is ever sent");
        Assert.That(queue.IsCompleted, Is.True);
        Assert.That(_counters.SlowConsumerCloses, Is.EqualTo(1));
        Assert.That(_counters.FramesDropped, Is.EqualTo(4), "the overflowing frame and the three queued");
    }

    [Test]
    public void Disconnect_MoreOwedRepliesUnreadThanAllowed_Overflows()
    {
        var queue = new SendQueue(8, DeliveryPolicy.Disconnect, _counters, owedCapacity: 1);
        queue.EnqueueReply(Reply());

        Assert.That(queue.EnqueueReply(Reply()), Is.EqualTo(EnqueueResult.Overflowed));
    }

    [Test]
    public void OwedReplies_GoOutAheadOfData_AndSurviveADataOverflow_UntilCompleteOwed()
    {
        var queue = new SendQueue(1, DeliveryPolicy.Disconnect, _counters);
        queue.Deliver(Update(1));
        var pong = Reply();
        queue.EnqueueReply(pong);
        Assert.That(queue.Deliver(Update(2)), Is.EqualTo(EnqueueResult.Overflowed));
        var late = Reply();
        Assert.That(queue.EnqueueReply(late), Is.EqualTo(EnqueueResult.Queued), "a reply owed after the overflow is still taken");

        var batch = new List<OutboundFrame>();
        Assert.That(queue.TakeBatch(batch, includeData: false), Is.True);
        Assert.That(batch, Is.EqualTo(new[] { pong, late }), "a close that drains owed replies only takes no data");
        Assert.That(queue.CompleteOwed(), Is.Empty);
        Assert.That(queue.EnqueueReply(Reply()), Is.EqualTo(EnqueueResult.Ignored));
    }

    [Test]
    public void TakeBatch_TakesOwedRepliesFirst()
    {
        var queue = new SendQueue(8, DeliveryPolicy.Disconnect, _counters);
        queue.Deliver(Update(1));
        var pong = Reply();
        queue.EnqueueReply(pong);

        var batch = new List<OutboundFrame>();
        queue.TakeBatch(batch);

        Assert.That(batch[0], Is.SameAs(pong));
        Assert.That(batch[1].Seq, Is.EqualTo(1));
    }

    [Test]
    public void Latest_FullQueue_ConflatesToTheNewestFramePerId_SentAfterTheQueue_InSeqOrder()
    {
        var queue = new SendQueue(2, DeliveryPolicy.Latest, _counters);
        queue.Deliver(Update(1, "a"));
        queue.Deliver(Update(2, "b"));
        Assert.That(queue.Deliver(Update(3, "b")), Is.EqualTo(EnqueueResult.Conflated));
        Assert.That(queue.Deliver(Update(4, "a")), Is.EqualTo(EnqueueResult.Conflated));
        Assert.That(queue.Deliver(Update(5, "b")), Is.EqualTo(EnqueueResult.Conflated), "replaces seq 3");
        Assert.That(queue.Deliver(Ping()), Is.EqualTo(EnqueueResult.Dropped), "a frame without id is skipped while behind");

        var batch = new List<OutboundFrame>();
        while (queue.TakeBatch(batch))
        {
        }

        Assert.That(batch.Select(f => f.Seq), Is.EqualTo(new long[] { 1, 2, 4, 5 }));
        Assert.That(_counters.FramesConflated, Is.EqualTo(1));
        Assert.That(_counters.FramesDropped, Is.EqualTo(1));
        Assert.That(_counters.SlowConsumerCloses, Is.Zero);
        Assert.That(queue.IsCompleted, Is.False);
    }

    [Test]
    public void Latest_WhileBehind_EvenARoomyQueueConflates_UntilTheSubscriberHasCaughtUp()
    {
        var queue = new SendQueue(1, DeliveryPolicy.Latest, _counters);
        queue.Deliver(Update(1, "a"));
        queue.Deliver(Update(2, "a"));
        var batch = new List<OutboundFrame>();
        Assert.That(queue.TakeBatch(batch), Is.True);

        // The FIFO is empty again, but seq 2 still waits in conflation: seq 3 replaces it there rather than overtaking it in the FIFO.
        Assert.That(queue.Deliver(Update(3, "a")), Is.EqualTo(EnqueueResult.Conflated));
        while (queue.TakeBatch(batch))
        {
        }

        Assert.That(batch.Select(f => f.Seq), Is.EqualTo(new long[] { 1, 3 }));
        Assert.That(queue.Deliver(Update(4, "a")), Is.EqualTo(EnqueueResult.QueuedWake), "caught up: plain queuing again");
    }

    [Test]
    public void Latest_MoreOwedRepliesUnreadThanAllowed_AreDroppedAndCounted_NeverAClose()
    {
        var queue = new SendQueue(8, DeliveryPolicy.Latest, _counters, owedCapacity: 1);
        queue.EnqueueReply(Reply());

        Assert.That(queue.EnqueueReply(Reply()), Is.EqualTo(EnqueueResult.Dropped));
        Assert.That(_counters.FramesDropped, Is.EqualTo(1));
        Assert.That(queue.IsCompleted, Is.False);
    }

    [Test]
    public void Complete_KeepsWhatIsQueuedForTheConsumer_AndIgnoresLaterFrames_Uncounted()
    {
        var queue = new SendQueue(8, DeliveryPolicy.Disconnect, _counters);
        queue.Deliver(Update(1));
        var batch = new List<OutboundFrame>();

        Assert.That(queue.Complete(), Is.False, "the consumer is already due");
        Assert.That(queue.Deliver(Update(2)), Is.EqualTo(EnqueueResult.Ignored));
        Assert.That(queue.TakeBatch(batch), Is.True);
        Assert.That(batch.Select(f => f.Seq), Is.EqualTo(new long[] { 1 }));
        Assert.That(_counters.FramesDropped, Is.Zero);
    }

    [Test]
    public void Complete_OnAParkedConsumer_AsksForAWakeUp()
    {
        var queue = new SendQueue(8, DeliveryPolicy.Disconnect, _counters);
        queue.Deliver(Update(1));
        var batch = new List<OutboundFrame>();
        while (queue.TakeBatch(batch))
        {
        }

        Assert.That(queue.Complete(), Is.True);
    }

    [Test]
    public void TryEnqueueInitial_FillsUpToCapacity_ThenRefuses()
    {
        var queue = new SendQueue(2, DeliveryPolicy.Disconnect, _counters);

        Assert.That(queue.TryEnqueueInitial(Update(1), out var wake), Is.True);
        Assert.That(wake, Is.True);
        Assert.That(queue.TryEnqueueInitial(Update(2), out wake), Is.True);
        Assert.That(wake, Is.False);
        Assert.That(queue.TryEnqueueInitial(Update(3), out _), Is.False);
        Assert.That(queue.Count, Is.EqualTo(2));
    }

    [Test]
    public void ManyFrames_KeepTheirOrder_AcrossRingGrowth()
    {
        var queue = new SendQueue(1000, DeliveryPolicy.Disconnect, _counters);
        var batch = new List<OutboundFrame>();
        var seq = 0;
        for (var round = 0; round < 5; round++)
        {
            for (var i = 0; i < 3 + (round * 97); i++)
            {
                Assert.That(queue.Deliver(Update(++seq)), Is.Not.EqualTo(EnqueueResult.Overflowed));
            }

            queue.TakeBatch(batch);
        }

        Assert.That(batch.Select(f => f.Seq), Is.EqualTo(Enumerable.Range(1, seq).Select(s => (long)s)));
    }

    [Test]
    public async Task WakeSignal_ASignalBeforeTheWait_CompletesItAtOnce_AndOneDuringTheWait_WakesIt()
    {
        var signal = new WakeSignal();
        signal.Signal();
        Assert.That(signal.WaitAsync().IsCompleted, Is.True);

        var waiting = signal.WaitAsync();
        Assert.That(waiting.IsCompleted, Is.False);
        signal.Signal();
        await waiting.AsTask().DefaultTimeout();

        Assert.That(signal.WaitAsync().IsCompleted, Is.False, "auto-reset: one signal, one wait");
    }

    [Test]
    public void WireBytes_IsTheUnmaskedTextFrame_ForEveryPayloadLengthClass()
    {
        foreach (var length in new[] { 0, 125, 126, 65535, 65536 })
        {
            var payload = Encoding.ASCII.GetBytes(new string('x', length));
            var wire = new OutboundFrame(payload).WireBytes;
            var header = wire.Length - length;

            Assert.That(wire[0], Is.EqualTo(0x81), "FIN and opcode text");
            Assert.That(wire[1] & 0x80, Is.Zero, "server frames are not masked");
            Assert.That(header, Is.EqualTo(length < 126 ? 2 : length <= 65535 ? 4 : 10));
            Assert.That(wire.AsSpan(header).SequenceEqual(payload), Is.True);
        }
    }

    private static OutboundFrame Update(long seq, string id = "robot-1") => new(Encoding.UTF8.GetBytes($"{{\"seq\":{seq}}}"), seq, id);

    private static OutboundFrame Ping() => new("{\"type\":\"ping\"}"u8.ToArray());

    private static OutboundFrame Reply() => new("{\"type\":\"pong\"}"u8.ToArray());
}
