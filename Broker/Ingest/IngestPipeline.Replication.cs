using TopicBroker.Protocol;
using TopicBroker.Storage;
using TopicBroker.Topics;

namespace TopicBroker.Ingest;

// Upstream replication (protocol.md "Sites and upstream replication"): changes that arrive with
// their restaurant's seq, resynchronisations, and store work for the upstream forwarder, all on
// the one loop that owns the store, in queue order with every other change.
internal sealed partial class IngestPipeline
{
    /// <summary>Replicated changes found already applied in the batch being committed; answered with its outcome.</summary>
    private readonly List<PendingChange> _duplicates = [];

    /// <summary>
    /// Raised on the loop after changes were committed and applied (by any source); the upstream
    /// forwarder waits on it. Handlers must return at once.
    /// </summary>
    public event Action? ChangesCommitted;

    /// <summary>
    /// Replaces a topic's whole state by <paramref name="entities"/> at <paramref name="seq"/> (a
    /// resynchronisation): committed, then every subscriber gets it as a snapshot. The topic's
    /// history starts afresh after <paramref name="seq"/>.
    /// </summary>
    public Task<PublishResult> ResyncAsync(TopicState topic, long seq, IReadOnlyDictionary<string, byte[]> entities, CancellationToken cancellationToken) =>
        EnqueueWorkAsync(new ResyncWork(topic, seq, entities), cancellationToken);

    /// <summary>Runs <paramref name="work"/> on the loop, between two batches, with the store to itself.</summary>
    public async Task<T> RunOnStoreAsync<T>(Func<IStateStore, Task<T>> work, CancellationToken cancellationToken)
    {
        var item = new StoreWork<T>(work);
        try
        {
            await _queue.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            throw new OperationCanceledException("The ingest pipeline is draining.");
        }

        return await item.Completion.ConfigureAwait(false);
    }

    private async Task<PublishResult> EnqueueWorkAsync(ResyncWork work, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(work, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            return PublishResult.ShuttingDown;
        }

        return await work.Completion.ConfigureAwait(false);
    }

    /// <summary>
    /// Takes the obvious resends out of the batch before the store sees them: a replicated change
    /// (one with its own seq) at or below the topic's applied seq, or repeating a seq earlier in
    /// the batch, is answered with the batch's outcome and applied no second time. The store
    /// decides the rest in the commit transaction (<see cref="ReplicatedSeqs"/>): in a cluster
    /// this node's applied seq may lag what another node committed, so only the store can tell a
    /// next seq from a resend or a gap.
    /// </summary>
    private void SettleReplicatedChanges(List<PendingChange> batch)
    {
        Dictionary<TopicState, long>? newest = null;
        batch.RemoveAll(pending =>
        {
            var change = pending.Change;
            if (change.ReplicatedSeq == 0)
            {
                return false;
            }

            newest ??= [];
            var last = newest.TryGetValue(change.Topic, out var seq) ? seq : change.Topic.Seq;
            if (change.ReplicatedSeq <= last)
            {
                _duplicates.Add(pending);
                return true;
            }

            newest[change.Topic] = change.ReplicatedSeq;
            return false;
        });
    }

    /// <summary>A replicated change the store wrote at another seq than its own would mean a second writer on the site topic; it is logged, never hidden.</summary>
    private void CheckReplicatedSeqs(List<PendingChange> batch, IReadOnlyList<StoredChange> stored)
    {
        for (var i = 0; i < stored.Count; i++)
        {
            var change = batch[i].Change;
            if (change.ReplicatedSeq != 0 && stored[i].Outcome == ReplicatedWrite.Written && stored[i].Seq != change.ReplicatedSeq)
            {
                Log.ReplicatedSeqMismatch(_logger, change.Topic.Name, change.ReplicatedSeq, stored[i].Seq);
            }
        }
    }

    /// <summary>The changes the store wrote: a resend it found committed is neither applied nor sent to the other nodes.</summary>
    private static IReadOnlyList<StoredChange> WrittenOf(IReadOnlyList<StoredChange> stored) =>
        stored.Any(change => change.Outcome != ReplicatedWrite.Written) ? [.. stored.Where(change => change.Outcome == ReplicatedWrite.Written)] : stored;

    private static PublishResult AnswerFor(Protocol.Inbound.InboundChange change, StoredChange stored) => stored.Outcome switch
    {
        ReplicatedWrite.Written => PublishResult.Committed(stored.Seq),
        ReplicatedWrite.AlreadyCommitted => PublishResult.Committed(change.ReplicatedSeq),
        _ => PublishResult.Rejected(ErrorCodes.SeqGap, $"Change {change.ReplicatedSeq} of '{change.Topic.Name}' skips a seq the head office does not hold; resend from the welcome's seq."),
    };

    private void CompleteDuplicates(bool committed)
    {
        foreach (var pending in _duplicates)
        {
            pending.Complete(committed
                ? PublishResult.Committed(pending.Change.ReplicatedSeq)
                : PublishResult.Rejected(ErrorCodes.Unavailable, "The store could not commit; retry later."));
        }

        _duplicates.Clear();
    }

    private void OnChangesCommitted() => ChangesCommitted?.Invoke();

    /// <summary>Work that needs the store or the topics to itself: run between two batches.</summary>
    private abstract class LoopWork : IngestItem
    {
        public abstract Task RunAsync(IngestPipeline pipeline);
    }

    private sealed class StoreWork<T>(Func<IStateStore, Task<T>> work) : LoopWork
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Completion => _completion.Task;

        public override async Task RunAsync(IngestPipeline pipeline)
        {
            try
            {
                _completion.TrySetResult(await work(pipeline._store).ConfigureAwait(false));
            }
            catch (Exception ex)
            {
                // The work's failure is its caller's, not the loop's.
                _completion.TrySetException(ex);
            }
        }
    }

    private sealed class ResyncWork(TopicState topic, long seq, IReadOnlyDictionary<string, byte[]> entities) : LoopWork
    {
        private readonly TaskCompletionSource<PublishResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<PublishResult> Completion => _completion.Task;

        public override async Task RunAsync(IngestPipeline pipeline)
        {
            try
            {
                await pipeline._store.ReplaceTopicAsync(topic.Name, seq, entities, CancellationToken.None).ConfigureAwait(false);
            }
            catch (StoreUnavailableException ex)
            {
                Log.StoreFailed(pipeline._logger, ex);
                _completion.TrySetResult(PublishResult.Rejected(ErrorCodes.Unavailable, "The store could not commit; retry later."));
                return;
            }

            // Through the sequencer: a change it held, or a store read taken before this commit,
            // belongs to the replaced state (protocol.md "Cluster": resynchronised topics).
            pipeline._sequencer.Replace(topic, seq, entities);
            Interlocked.Increment(ref pipeline._commits);
            Log.TopicResynchronised(pipeline._logger, topic.Name, seq, entities.Count);
            pipeline.OnChangesCommitted();
            _completion.TrySetResult(PublishResult.Committed(seq));
            // Last, as a batch's changes: the other nodes reload the topic from the store. Sent on
            // the loop, so on Redis it follows every change committed before it and precedes every later one.
            pipeline._feed.PublishResync(topic.Name, seq);
        }
    }
}
