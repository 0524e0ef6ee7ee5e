using TopicBroker.Protocol;

namespace TopicBroker.Topics;

/// <summary>
/// One topic: the last value per id, its seq, the recent history, and the subscribers it fans out
/// to (<see cref="ITopicSubscriber"/>). One lock guards all of it, so that a subscriber joins
/// between two changes: it gets the state (or the replay) up to some seq N and then exactly the
/// live changes after N, with no gap and no duplicate. The lock is taken once per broadcast, never
/// per recipient, and nothing under it waits or calls back into the topic: fan-out only calls
/// <see cref="ITopicSubscriber.Deliver"/>, and the subscribers that overflowed are closed after
/// the lock is released.
/// </summary>
internal sealed partial class TopicState
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, byte[]> _entities = new(StringComparer.Ordinal);
    private readonly HistoryRing _history;
    private ITopicSubscriber[] _subscribers = new ITopicSubscriber[4];
    private int _subscriberCount;
    private int _reservedSlots;
    private OutboundFrame? _snapshot;
    private long _seq;
    private long _lastBroadcastTimestamp;

    public TopicState(string name, int historySize)
    {
        Name = name;
        _history = new HistoryRing(historySize);
    }

    public string Name { get; }

    public TopicCounters Counters { get; } = new();

    /// <summary>The seq of the newest applied change.</summary>
    public long Seq => Volatile.Read(ref _seq);

    public int SubscriberCount => Volatile.Read(ref _subscriberCount);

    public int EntityCount
    {
        get
        {
            lock (_gate)
            {
                return _entities.Count;
            }
        }
    }

    public bool ContainsEntity(string id)
    {
        lock (_gate)
        {
            return _entities.ContainsKey(id);
        }
    }

    /// <summary>When (in <see cref="TimeProvider"/> timestamps) a change or snapshot was last fanned out on this topic.</summary>
    public long LastBroadcastTimestamp => Volatile.Read(ref _lastBroadcastTimestamp);

    /// <summary>Fills the topic from the store at start-up, before any client connects.</summary>
    public void Load(long seq, IEnumerable<KeyValuePair<string, byte[]>> entities, IEnumerable<OutboundFrame> history)
    {
        lock (_gate)
        {
            _seq = seq;
            foreach (var (id, data) in entities)
            {
                _entities[id] = data;
            }

            foreach (var frame in history)
            {
                _history.Add(frame);
            }

            _snapshot = null;
        }
    }

    /// <summary>
    /// Replaces the whole state with the committed one and sends every subscriber a snapshot
    /// of it: for a cluster node whose applied seq the store's history no longer reaches, or
    /// whose topic another node resynchronised, possibly at a lower seq (protocol.md "Cluster").
    /// Called by the cluster's sequencer only, in place of the missing <see cref="Apply"/> calls.
    /// </summary>
    public void Resynchronize(long seq, IEnumerable<KeyValuePair<string, byte[]>> entities, IEnumerable<OutboundFrame> history, long timestamp)
    {
        lock (_gate)
        {
            _entities.Clear();
            foreach (var (id, data) in entities)
            {
                _entities[id] = data;
            }

            _history.Clear();
            foreach (var frame in history)
            {
                _history.Add(frame);
            }

            Volatile.Write(ref _seq, seq);
            _snapshot = null;
            FanOutLocked(GetSnapshotLocked());
            _lastBroadcastTimestamp = timestamp;
        }
    }

    /// <summary>Takes one of the topic's connection slots; false when the topic is full.</summary>
    public bool TryReserveSlot(int maxConnections)
    {
        if (Interlocked.Increment(ref _reservedSlots) <= maxConnections)
        {
            return true;
        }

        Interlocked.Decrement(ref _reservedSlots);
        return false;
    }

    public void ReleaseSlot() => Interlocked.Decrement(ref _reservedSlots);

    /// <summary>
    /// Queues the connection's first frames (the replay after <paramref name="since"/> when the
    /// history still holds it and it fits the queue, else a snapshot) and adds it to the fan-out.
    /// </summary>
    public void Subscribe(ITopicSubscriber connection, long? since, int replayLimit)
    {
        lock (_gate)
        {
            // Closed between admission and here (an expired token, shutdown): RequestClose sets
            // IsClosing before it takes this lock to unsubscribe, so either this check sees it or
            // its Unsubscribe runs after the add below.
            if (connection.IsClosing)
            {
                return;
            }

            var replayed = since is { } after
                && after <= _seq
                && after >= _seq - replayLimit
                && _history.TryReplayAfter(after, _seq, connection, static (c, frame) => c.TryEnqueueInitial(frame));
            if (!replayed)
            {
                connection.TryEnqueueInitial(GetSnapshotLocked());
            }

            if (_subscriberCount == _subscribers.Length)
            {
                Array.Resize(ref _subscribers, _subscribers.Length * 2);
            }

            connection.SubscriberIndex = _subscriberCount;
            _subscribers[_subscriberCount] = connection;
            Volatile.Write(ref _subscriberCount, _subscriberCount + 1);
        }
    }

    /// <summary>Removes a connection from the fan-out; safe to call more than once.</summary>
    public void Unsubscribe(ITopicSubscriber connection)
    {
        lock (_gate)
        {
            var index = connection.SubscriberIndex;
            if (index < 0 || index >= _subscriberCount || !ReferenceEquals(_subscribers[index], connection))
            {
                return;
            }

            // Swap-remove keeps removal O(1) with thousands of subscribers; fan-out order among
            // subscribers carries no meaning.
            var last = _subscriberCount - 1;
            if (index != last)
            {
                _subscribers[index] = _subscribers[last];
                _subscribers[index].SubscriberIndex = index;
            }

            _subscribers[last] = null!;
            connection.SubscriberIndex = -1;
            Volatile.Write(ref _subscriberCount, last);
        }
    }

    /// <summary>
    /// Applies a committed change and fans its frame out. Called only by the ingest pipeline, in
    /// seq order; <paramref name="frame"/> was serialized once by the caller, outside the lock.
    /// </summary>
    public void Apply(long seq, string id, byte[]? data, OutboundFrame frame, long timestamp)
    {
        List<ITopicSubscriber>? overflowed;
        lock (_gate)
        {
            if (data is null)
            {
                _entities.Remove(id);
            }
            else
            {
                _entities[id] = data;
            }

            _snapshot = null;
            _history.Add(frame);
            Volatile.Write(ref _seq, seq);
            overflowed = FanOutLocked(frame);
            _lastBroadcastTimestamp = timestamp;
        }

        Counters.AddUpdateIn(timestamp);
        CloseSlowConsumers(overflowed);
    }

    /// <summary>Fans a frame that changes no state (a ping) out to every subscriber.</summary>
    public void Broadcast(OutboundFrame frame)
    {
        List<ITopicSubscriber>? overflowed;
        lock (_gate)
        {
            overflowed = FanOutLocked(frame);
        }

        CloseSlowConsumers(overflowed);
    }

    /// <summary>Sends every subscriber the current state as a snapshot (docs/operations.md "SQLite schema and external writers", periodic rebroadcast).</summary>
    public void RebroadcastSnapshot(long timestamp)
    {
        List<ITopicSubscriber>? overflowed;
        lock (_gate)
        {
            overflowed = FanOutLocked(GetSnapshotLocked());
            _lastBroadcastTimestamp = timestamp;
        }

        CloseSlowConsumers(overflowed);
    }

    /// <summary>The topic's current state as a snapshot frame, serialized at most once per change.</summary>
    public OutboundFrame GetSnapshot()
    {
        lock (_gate)
        {
            return GetSnapshotLocked();
        }
    }

    private OutboundFrame GetSnapshotLocked() =>
        _snapshot ??= FrameSerializer.Snapshot(Name, _seq, _entities);

    /// <summary>Hands the frame to every subscriber; returns those that overflowed (null when none, the usual case).</summary>
    private List<ITopicSubscriber>? FanOutLocked(OutboundFrame frame)
    {
        List<ITopicSubscriber>? overflowed = null;
        var count = _subscriberCount;
        if (count > 0)
        {
            // The wire form is built here, once, rather than by whichever subscriber sends it first.
            _ = frame.WireBytes;
        }

        var subscribers = _subscribers;
        for (var i = 0; i < count; i++)
        {
            if (!subscribers[i].Deliver(frame))
            {
                (overflowed ??= []).Add(subscribers[i]);
            }
        }

        Counters.AddFramesQueued(count);
        return overflowed;
    }

    /// <summary>Outside the lock: a close unsubscribes, which takes the lock again.</summary>
    private static void CloseSlowConsumers(List<ITopicSubscriber>? overflowed)
    {
        if (overflowed is null)
        {
            return;
        }

        foreach (var subscriber in overflowed)
        {
            subscriber.CloseAsSlowConsumer();
        }
    }
}
