using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Topics;

namespace TopicBroker.Connections;

/// <summary>
/// One connection's outbound frames and its delivery policy (protocol.md "Frames", slow
/// consumers): a bounded FIFO; when it is full, a <see cref="DeliveryPolicy.Disconnect"/>
/// subscriber overflows (it is to be closed with 1013, and from that moment the queue takes
/// nothing more, so it can never deliver a gap), a <see cref="DeliveryPolicy.Latest"/> one switches
/// to conflation (the newest frame per id, sent once the queue has drained).
/// </summary>
/// <remarks>
/// Producers (fan-out under a topic's lock, the connection's own replies) never wait and never
/// call out: every outcome is a return value. The single consumer takes what is pending with
/// <see cref="TakeBatch"/>. <c>Enqueue</c> results say when the consumer must be woken: once per
/// idle period, on the first frame after <see cref="TakeBatch"/> found nothing. The ring grows
/// on demand and is let go when it drains, so an idle subscriber holds no array.
/// </remarks>
/// <remarks>
/// Replies the broker owes the client (pongs, error and auth answers) have a FIFO of their own,
/// bounded by <paramref name="owedCapacity"/> and taken ahead of data, so a data overflow or a
/// close never drops them (protocol.md "Close codes", "What goes out before a close"): completing
/// the queue stops data only, and the replies stay until <see cref="CompleteOwed"/>.
/// </remarks>
internal sealed class SendQueue(int capacity, DeliveryPolicy policy, TopicCounters counters, int owedCapacity = 64)
{
    private const int InitialRing = 4;

    /// <summary>A drained ring larger than this is released rather than kept for the next burst.</summary>
    private const int KeptRing = 16;

    private readonly Lock _gate = new();
    private OutboundFrame[]? _ring;
    private int _head;
    private int _count;
    private Queue<OutboundFrame>? _owed;
    private bool _owedCompleted;
    private Dictionary<string, OutboundFrame>? _conflated;
    private bool _conflating;
    private bool _completed;
    private bool _scheduled;

    public DeliveryPolicy Policy => policy;

    /// <summary>Frames waiting in the FIFO (conflated frames not included).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    public bool IsCompleted
    {
        get
        {
            lock (_gate)
            {
                return _completed;
            }
        }
    }

    /// <summary>
    /// Fan-out's entry point. Returns <see cref="EnqueueResult.Overflowed"/> when a
    /// <see cref="DeliveryPolicy.Disconnect"/> queue had no room: the queue has then completed
    /// itself and counted what it dropped, and the caller closes the connection as a slow consumer.
    /// </summary>
    public EnqueueResult Deliver(OutboundFrame frame)
    {
        lock (_gate)
        {
            if (_completed)
            {
                return EnqueueResult.Ignored;
            }

            if (!_conflating && _count < capacity)
            {
                Push(frame);
                return Wake();
            }

            if (policy == DeliveryPolicy.Latest)
            {
                return ConflateLocked(frame);
            }

            return OverflowLocked(dropped: 1);
        }
    }

    /// <summary>
    /// A reply the broker owes the client (pong, error, auth answer), queued apart from data and
    /// taken first. With more unread than <c>owedCapacity</c> (the client sends but does not
    /// read): dropped and counted on a 'latest' topic (such a client is never closed for being
    /// slow), an overflow otherwise.
    /// </summary>
    public EnqueueResult EnqueueReply(OutboundFrame frame)
    {
        lock (_gate)
        {
            if (_owedCompleted)
            {
                return EnqueueResult.Ignored;
            }

            _owed ??= new Queue<OutboundFrame>(4);
            if (_owed.Count < owedCapacity)
            {
                _owed.Enqueue(frame);
                return Wake();
            }

            if (policy == DeliveryPolicy.Latest)
            {
                counters.AddFramesDropped(1);
                return EnqueueResult.Dropped;
            }

            return _completed ? EnqueueResult.Ignored : OverflowLocked(dropped: 1);
        }
    }

    /// <summary>Takes nothing owed from now on and returns what is still owed (the close sequence sends it).</summary>
    public List<OutboundFrame> CompleteOwed()
    {
        lock (_gate)
        {
            _owedCompleted = true;
            var rest = _owed is { Count: > 0 } ? [.. _owed] : new List<OutboundFrame>();
            _owed = null;
            return rest;
        }
    }

    /// <summary>Owed replies waiting (not yet taken).</summary>
    public int OwedCount
    {
        get
        {
            lock (_gate)
            {
                return _owed?.Count ?? 0;
            }
        }
    }

    /// <summary>A subscriber's first frames (snapshot or replay), sized by the caller to fit. False when full or completed.</summary>
    public bool TryEnqueueInitial(OutboundFrame frame, out bool wake)
    {
        lock (_gate)
        {
            wake = false;
            if (_completed || _count >= capacity)
            {
                return false;
            }

            Push(frame);
            wake = Wake() == EnqueueResult.QueuedWake;
            return true;
        }
    }

    /// <summary>Takes no more data from now on (owed replies still, until <see cref="CompleteOwed"/>); what is queued stays for the consumer. True when the consumer must be woken to see it.</summary>
    public bool Complete()
    {
        lock (_gate)
        {
            _completed = true;
            return Wake() == EnqueueResult.QueuedWake;
        }
    }

    /// <summary>
    /// Moves what is pending into <paramref name="batch"/>: the FIFO in order, or, once it is
    /// empty, what conflation holds, oldest change first. Returns false when nothing was pending:
    /// the consumer then parks, and the next enqueue asks for a wake-up again.
    /// </summary>
    public bool TakeBatch(List<OutboundFrame> batch, int maxBytes = int.MaxValue, bool includeData = true)
    {
        lock (_gate)
        {
            // Owed replies first: they answer the client, and no data may hold them up.
            var owed = 0;
            if (_owed is { Count: > 0 })
            {
                owed = _owed.Count;
                while (_owed.TryDequeue(out var reply))
                {
                    batch.Add(reply);
                }
            }

            if (!includeData)
            {
                if (owed > 0)
                {
                    return true;
                }

                _scheduled = false;
                return false;
            }

            if (_count > 0)
            {
                // At least one frame, then up to maxBytes of payload: a pass's write stays bounded.
                var ring = _ring!;
                var bytes = 0;
                var taken = 0;
                while (taken < _count && (taken == 0 || bytes < maxBytes))
                {
                    var index = (_head + taken) & (ring.Length - 1);
                    var frame = ring[index];
                    batch.Add(frame);
                    bytes += frame.Payload.Length;
                    ring[index] = null!;
                    taken++;
                }

                _head = (_head + taken) & (ring.Length - 1);
                _count -= taken;
                if (_count == 0)
                {
                    _head = 0;
                    if (ring.Length > KeptRing)
                    {
                        _ring = null;
                    }
                }

                return true;
            }

            if (_conflating)
            {
                if (_conflated is { Count: > 0 })
                {
                    // (The owed replies taken above go first.)
                    var start = batch.Count;
                    batch.AddRange(_conflated.Values);
                    batch.Sort(start, batch.Count - start, SeqOrder.Instance);
                    _conflated.Clear();
                    return true;
                }

                // Caught up: back to plain queuing.
                _conflating = false;
                _conflated = null;
            }

            if (owed > 0)
            {
                return true;
            }

            _scheduled = false;
            return false;
        }
    }

    /// <summary>Drops everything queued, for the fan-out micro-benchmark, which runs no consumer.</summary>
    internal void DiscardForBenchmark()
    {
        var batch = new List<OutboundFrame>();
        while (TakeBatch(batch))
        {
            batch.Clear();
        }
    }

    /// <summary>
    /// The 'latest' policy: while this subscriber is behind, every update goes to a map holding
    /// the newest frame per id instead of the queue, so it catches up on current values, never on
    /// a stale backlog. Frames without an id (pings, rebroadcast snapshots) are skipped meanwhile:
    /// newer state is on its way anyway.
    /// </summary>
    private EnqueueResult ConflateLocked(OutboundFrame frame)
    {
        if (frame.Id is null)
        {
            counters.AddFramesDropped(1);
            return EnqueueResult.Dropped;
        }

        _conflated ??= new Dictionary<string, OutboundFrame>(StringComparer.Ordinal);
        if (_conflated.Remove(frame.Id))
        {
            counters.AddFramesConflated(1);
        }

        _conflated[frame.Id] = frame;
        _conflating = true;
        return Wake() == EnqueueResult.QueuedWake ? EnqueueResult.ConflatedWake : EnqueueResult.Conflated;
    }

    private EnqueueResult OverflowLocked(int dropped)
    {
        _completed = true;
        counters.AddSlowConsumerClose();
        counters.AddFramesDropped(dropped + _count);
        return EnqueueResult.Overflowed;
    }

    private void Push(OutboundFrame frame)
    {
        var ring = _ring;
        if (ring is null)
        {
            ring = _ring = new OutboundFrame[InitialRing];
        }
        else if (_count == ring.Length)
        {
            // Power-of-two sizes keep the index a mask; the capacity bound is checked by the callers.
            var bigger = new OutboundFrame[ring.Length * 2];
            for (var i = 0; i < _count; i++)
            {
                bigger[i] = ring[(_head + i) & (ring.Length - 1)];
            }

            _head = 0;
            ring = _ring = bigger;
        }

        ring[(_head + _count) & (ring.Length - 1)] = frame;
        _count++;
    }

    private EnqueueResult Wake()
    {
        if (_scheduled)
        {
            return EnqueueResult.Queued;
        }

        _scheduled = true;
        return EnqueueResult.QueuedWake;
    }

    private sealed class SeqOrder : IComparer<OutboundFrame>
    {
        public static readonly SeqOrder Instance = new();

        public int Compare(OutboundFrame? x, OutboundFrame? y) => x!.Seq.CompareTo(y!.Seq);
    }
}

/// <summary>What <see cref="SendQueue"/> did with a frame.</summary>
internal enum EnqueueResult
{
    /// <summary>Queued; the consumer is already due to run.</summary>
    Queued,

    /// <summary>Queued; the consumer is parked and must be woken.</summary>
    QueuedWake,

    /// <summary>Kept as the newest value of its id ('latest' policy, subscriber behind).</summary>
    Conflated,

    /// <summary>Conflated, and the consumer must be woken.</summary>
    ConflatedWake,

    /// <summary>Discarded and counted ('latest' policy: a frame without id, or a reply with no room).</summary>
    Dropped,

    /// <summary>The queue is completed (the connection is closing); not counted.</summary>
    Ignored,

    /// <summary>No room on a 'disconnect' topic: close the connection as a slow consumer (1013).</summary>
    Overflowed,
}

internal static class EnqueueResultExtensions
{
    public static bool NeedsWake(this EnqueueResult result) => result is EnqueueResult.QueuedWake or EnqueueResult.ConflatedWake;
}
