using TopicBroker.Protocol;

namespace TopicBroker.Topics;

// Upstream replication (protocol.md "Sites and upstream replication"): what a restaurant's broker
// reads to forward its changes, and what the head office does on a resynchronisation.
internal sealed partial class TopicState
{
    /// <summary>
    /// Copies up to <paramref name="max"/> update frames after <paramref name="since"/>, oldest
    /// first, into <paramref name="frames"/>; false when the history no longer reaches back that
    /// far (or <paramref name="since"/> is newer than the topic), so only a snapshot can catch up.
    /// </summary>
    public bool TryCopyChangesAfter(long since, int max, List<OutboundFrame> frames)
    {
        lock (_gate)
        {
            return _history.TryReplayAfter(since, _seq, (frames, max), static (state, frame) =>
            {
                if (state.frames.Count >= state.max)
                {
                    return false;
                }

                state.frames.Add(frame);
                return true;
            });
        }
    }

    /// <summary>
    /// Replaces the whole state by <paramref name="entities"/> at <paramref name="seq"/>, which may
    /// be lower than the current seq, and sends every subscriber the new state as a snapshot. The
    /// history starts afresh, so a resume from before <paramref name="seq"/> gets a snapshot.
    /// Called only by the ingest pipeline, after the store committed the same state.
    /// </summary>
    public void ReplaceState(long seq, IReadOnlyDictionary<string, byte[]> entities, long timestamp)
    {
        lock (_gate)
        {
            _entities.Clear();
            foreach (var (id, data) in entities)
            {
                _entities[id] = data;
            }

            _history.Clear();
            Volatile.Write(ref _seq, seq);
            _snapshot = null;
            FanOutLocked(GetSnapshotLocked());
            _lastBroadcastTimestamp = timestamp;
        }

        Counters.AddUpdateIn(timestamp);
    }
}
