using System.Collections.Concurrent;
using TopicBroker.Protocol;
using TopicBroker.Storage;
using TopicBroker.Topics;

namespace TopicBroker.Cluster;

/// <summary>
/// The one place committed changes become applied (protocol.md "Cluster"): per topic, a change at
/// or below the applied seq is a duplicate and is dropped, the next one is applied and fanned out,
/// and one beyond the next is held until the gap before it is filled (by pub/sub, or by the
/// repair loop from the store's history). On one node every commit is the next seq, so a change is
/// applied at once; in a cluster, changes arrive from this node's commits, from Redis and from
/// backfills, in any order and any number of times. Until a topic is loaded from the store
/// everything is held, so a node that subscribes before it loads misses nothing.
/// </summary>
internal sealed class TopicSequencer(TopicRegistry topics, TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<string, Track> _tracks = new(StringComparer.Ordinal);
    private long _duplicatesDropped;
    private volatile bool _startupLoaded;

    /// <summary>Raised (outside any lock) when a change had to be held behind a gap.</summary>
    public event Action? GapDetected;

    public long DuplicatesDropped => Interlocked.Read(ref _duplicatesDropped);

    /// <summary>
    /// Offers a committed change; false when the topic is not this broker's. A change of a site
    /// this node has not seen (another node stored it) creates the site first: it is in the store.
    /// </summary>
    public bool Offer(StoredChange change) => Offer(change, generation: null);

    /// <summary>
    /// Offers a change read from the store while the topic was at <paramref name="generation"/>
    /// (<see cref="GenerationOf"/>, taken before the read): dropped when the topic was reloaded
    /// since, as the read may hold the seqs of the state the reload replaced.
    /// </summary>
    public bool OfferRead(StoredChange change, long generation) => Offer(change, (long?)generation);

    /// <summary>Counts the topic's reloads and replacements (protocol.md "Cluster": resynchronisation); reads taken before one are stale.</summary>
    public long GenerationOf(TopicState topic)
    {
        var track = TrackOf(topic);
        lock (track.Gate)
        {
            return track.Generation;
        }
    }

    /// <summary>The topic's applied seq and generation, read together.</summary>
    public (long Applied, long Generation) AppliedOf(TopicState topic)
    {
        var track = TrackOf(topic);
        lock (track.Gate)
        {
            return (topic.Seq, track.Generation);
        }
    }

    private bool Offer(StoredChange change, long? generation)
    {
        if (!topics.TryGet(change.Topic, out var topic) && !topics.TryAddStoredSiteOf(change.Topic, out topic))
        {
            return false;
        }

        var track = TrackOf(topic);
        var gap = false;
        lock (track.Gate)
        {
            if (generation is { } read && read != track.Generation)
            {
                track.DuplicatesDropped++;
                Interlocked.Increment(ref _duplicatesDropped);
            }
            else if (!track.Loaded)
            {
                track.Held.TryAdd(change.Seq, change);
            }
            else if (change.Seq <= topic.Seq || track.Held.ContainsKey(change.Seq))
            {
                track.DuplicatesDropped++;
                Interlocked.Increment(ref _duplicatesDropped);
            }
            else if (change.Seq == topic.Seq + 1)
            {
                Apply(topic, change);
                ApplyHeldLocked(topic, track);
            }
            else
            {
                if (track.Held.Count == 0)
                {
                    track.HeldSinceTimestamp = timeProvider.GetTimestamp();
                }

                track.Held.Add(change.Seq, change);
                gap = true;
            }
        }

        if (gap)
        {
            GapDetected?.Invoke();
        }

        return true;
    }

    /// <summary>The topic was loaded at its committed seq: drop what that already holds, apply what follows.</summary>
    public void MarkLoaded(TopicState topic)
    {
        var track = TrackOf(topic);
        lock (track.Gate)
        {
            track.Loaded = true;
            ApplyHeldLocked(topic, track);
        }
    }

    /// <summary>Start-up loading is over: topics created from now on (sites) start empty, as loaded.</summary>
    public void CompleteStartupLoad() => _startupLoaded = true;

    /// <summary>
    /// Replaces the topic's whole state (the store's history no longer reaches back to this
    /// node's seq): every subscriber gets a snapshot, and held changes beyond it follow. Ignored
    /// when the topic was reloaded since <paramref name="generation"/> (the read may be older than
    /// that reload) or is waiting for a reload: the reload brings the state.
    /// </summary>
    public bool Resynchronize(TopicState topic, StoredTopic stored, long generation)
    {
        var track = TrackOf(topic);
        lock (track.Gate)
        {
            if (stored.Seq <= topic.Seq || generation != track.Generation || !track.Loaded)
            {
                return false;
            }

            TakeStoredStateLocked(topic, track, stored);
            return true;
        }
    }

    /// <summary>
    /// This node's own resynchronisation of a site topic, committed (protocol.md "Sites and upstream
    /// replication"): the topic takes <paramref name="entities"/> at <paramref name="seq"/>, which
    /// may be lower than its applied seq, and every subscriber gets a snapshot. What was held
    /// belongs to the replaced state and is dropped.
    /// </summary>
    public void Replace(TopicState topic, long seq, IReadOnlyDictionary<string, byte[]> entities)
    {
        var track = TrackOf(topic);
        lock (track.Gate)
        {
            track.Generation++;
            track.Held.Clear();
            // The committed state itself: as good as a reload, so a reload marked before it is void.
            track.Loaded = true;
            topic.ReplaceState(seq, entities, timeProvider.GetTimestamp());
        }
    }

    /// <summary>
    /// The topic was resynchronised elsewhere (another node's notice, or its committed seq fell
    /// below the applied seq): from now on everything offered is held until <see cref="Reload"/>
    /// brings the state read from the store. What was held is dropped: it was committed before
    /// now, so that read holds it. Returns the generation <see cref="Reload"/> must be given.
    /// </summary>
    public long MarkForReload(TopicState topic)
    {
        var track = TrackOf(topic);
        lock (track.Gate)
        {
            track.Generation++;
            track.Held.Clear();
            track.Loaded = false;
            return track.Generation;
        }
    }

    /// <summary>
    /// Replaces the topic's whole state by <paramref name="stored"/> (read in one consistent read
    /// after <see cref="MarkForReload"/>), at its seq whether lower or higher than the applied
    /// one: every subscriber gets a snapshot, and what was held since the mark follows in seq
    /// order (held seqs the read already holds are dropped). False when the topic was marked
    /// again meanwhile: that mark's reload follows.
    /// </summary>
    public bool Reload(TopicState topic, StoredTopic stored, long generation)
    {
        var track = TrackOf(topic);
        lock (track.Gate)
        {
            if (generation != track.Generation)
            {
                return false;
            }

            track.Loaded = true;
            TakeStoredStateLocked(topic, track, stored);
            return true;
        }
    }

    /// <summary>The topic takes <paramref name="stored"/> whole (a snapshot to every subscriber), then what is held beyond it.</summary>
    private void TakeStoredStateLocked(TopicState topic, Track track, StoredTopic stored)
    {
        topic.Resynchronize(
            stored.Seq,
            stored.Entities,
            stored.History.Select(change => FrameSerializer.Update(topic.Name, change.Seq, change.Id, change.Data)),
            timeProvider.GetTimestamp());
        ApplyHeldLocked(topic, track);
    }

    /// <summary>Topics holding changes behind a gap for at least <paramref name="minimumAge"/>: (topic, applied seq, newest held seq).</summary>
    public List<(TopicState Topic, long Applied, long NewestHeld)> GapsOlderThan(TimeSpan minimumAge)
    {
        var gaps = new List<(TopicState, long, long)>();
        foreach (var track in _tracks.Values)
        {
            lock (track.Gate)
            {
                if (track.Loaded && track.Held.Count > 0 && timeProvider.GetElapsedTime(track.HeldSinceTimestamp) >= minimumAge)
                {
                    gaps.Add((track.Topic, track.Topic.Seq, track.Held.Keys.Max()));
                }
            }
        }

        return gaps;
    }

    public (long DuplicatesDropped, int Held) CountersOf(TopicState topic)
    {
        var track = TrackOf(topic);
        lock (track.Gate)
        {
            return (track.DuplicatesDropped, track.Held.Count);
        }
    }

    private Track TrackOf(TopicState topic) => _tracks.GetOrAdd(topic.Name, static (_, state) => new Track(state.topic) { Loaded = state.loaded }, (topic, loaded: _startupLoaded));

    private void ApplyHeldLocked(TopicState topic, Track track)
    {
        while (track.Held.Count > 0)
        {
            var (seq, change) = track.Held.First();
            if (seq <= topic.Seq)
            {
                track.Held.Remove(seq);
                continue;
            }

            if (seq != topic.Seq + 1)
            {
                // Still a gap: it has been held since now, as far as the repair loop's wait goes.
                track.HeldSinceTimestamp = timeProvider.GetTimestamp();
                return;
            }

            track.Held.Remove(seq);
            Apply(topic, change);
        }
    }

    private void Apply(TopicState topic, StoredChange change)
    {
        // Serialized once here; every subscriber's queue gets the same bytes.
        var frame = FrameSerializer.Update(change.Topic, change.Seq, change.Id, change.Data, change.IngestTimestamp);
        topic.Apply(change.Seq, change.Id, change.Data, frame, timeProvider.GetTimestamp());
    }

    private sealed class Track(TopicState topic)
    {
        public readonly Lock Gate = new();
        public readonly SortedList<long, StoredChange> Held = [];
        public readonly TopicState Topic = topic;
        public bool Loaded;
        public long HeldSinceTimestamp;
        public long DuplicatesDropped;
        public long Generation;
    }
}
