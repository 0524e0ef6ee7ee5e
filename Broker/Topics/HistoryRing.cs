using TopicBroker.Protocol;

namespace TopicBroker.Topics;

/// <summary>
/// The newest update frames of one topic, oldest first. Seqs in it are contiguous (every change
/// of a topic takes the next seq), so a seq's slot is found by arithmetic, not search.
/// Not thread-safe: the owning <see cref="TopicState"/> guards it. The array grows to the
/// capacity as changes arrive, so the many topics of many sites (protocol.md "Sites and upstream
/// replication") cost nothing until they are written.
/// </summary>
internal sealed class HistoryRing(int capacity)
{
    private OutboundFrame[] _frames = new OutboundFrame[Math.Min(capacity, 16)];
    private int _start;
    private int _count;

    public int Count => _count;

    /// <summary>The seq of the oldest frame held, or 0 when empty.</summary>
    public long OldestSeq => _count == 0 ? 0 : _frames[_start].Seq;

    public void Add(OutboundFrame frame)
    {
        if (_count == _frames.Length && _frames.Length < capacity)
        {
            // Not yet full: grow, oldest first from index 0.
            var grown = new OutboundFrame[(int)Math.Min(capacity, _frames.Length * 2L)];
            for (var i = 0; i < _count; i++)
            {
                grown[i] = _frames[(_start + i) % _frames.Length];
            }

            _frames = grown;
            _start = 0;
        }

        if (_count == _frames.Length)
        {
            _frames[_start] = frame;
            _start = (_start + 1) % _frames.Length;
        }
        else
        {
            _frames[(_start + _count) % _frames.Length] = frame;
            _count++;
        }
    }

    /// <summary>
    /// Hands every frame with seq greater than <paramref name="since"/> to <paramref name="sink"/>
    /// in order, if the ring reaches back that far; returns false (and hands nothing) if it does not.
    /// </summary>
    /// <summary>Forgets every frame (a resynchronised topic starts a new history).</summary>
    public void Clear()
    {
        Array.Clear(_frames);
        _start = 0;
        _count = 0;
    }

    public bool TryReplayAfter<TState>(long since, long currentSeq, TState state, Func<TState, OutboundFrame, bool> sink)
    {
        if (since == currentSeq)
        {
            return true;
        }

        if (_count == 0 || since < OldestSeq - 1 || since > currentSeq)
        {
            return false;
        }

        var skip = (int)(since - OldestSeq + 1);
        for (var i = skip; i < _count; i++)
        {
            if (!sink(state, _frames[(_start + i) % _frames.Length]))
            {
                return true;
            }
        }

        return true;
    }
}
