using TopicBroker.Connections;
using TopicBroker.Protocol;

namespace TopicBroker.Topics;

/// <summary>
/// One topic: the last value per id, its seq, the recent history, and the connections subscribed
/// to it. One lock guards all of it, so that a subscriber joins between two changes: it gets the
/// state (or the replay) up to some seq N and then exactly the live changes after N, with no gap
/// and no duplicate. The lock is taken once per broadcast, never per recipient, and nothing under
/// it waits: fan-out only calls <see cref="WebSocketConnection.Deliver"/>.
/// </summary>
internal sealed partial class TopicState
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, byte[]> _entities = new(StringComparer.Ordinal);
    private readonly HistoryRing _history;
    private WebSocketConnection[] _subscribers = new WebSocketConnection[4];
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
    public void Subscribe(WebSocketConnection connection, long? since, int replayLimit)
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
                && _history.TryReplayAfter(after, _seq, connection, static (c, frame) => c.TryEnqueue(frame));
            if (!replayed)
            {
                connection.TryEnqueue(GetSnapshotLocked());
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
    public void Unsubscribe(WebSocketConnection connection)
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
            FanOutLocked(frame);
            _lastBroadcastTimestamp = timestamp;
        }

        Counters.AddUpdateIn();
    }

    /// <summary>Fans a frame that changes no state (a ping) out to every subscriber.</summary>
    public void Broadcast(OutboundFrame frame)
    {
        lock (_gate)
        {
            FanOutLocked(frame);
        }
    }

    /// <summary>Sends every subscriber the current state as a snapshot (docs/operations.md "SQLite schema and external writers", periodic rebroadcast).</summary>
    public void RebroadcastSnapshot(long timestamp)
    {
        lock (_gate)
        {
            FanOutLocked(GetSnapshotLocked());
            _lastBroadcastTimestamp = timestamp;
        }
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

    private void FanOutLocked(OutboundFrame frame)
    {
        var count = _subscriberCount;
        // Backwards, because a full queue closes its connection, which swap-removes it from this
        // array (the lock is re-entrant): the element moved into slot i has already been visited.
        for (var i = count - 1; i >= 0; i--)
        {
            _subscribers[i].Deliver(frame);
        }

        Counters.AddFramesQueued(count);
    }
}
