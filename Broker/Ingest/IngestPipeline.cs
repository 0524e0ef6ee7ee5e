using System.Threading.Channels;
using Microsoft.Extensions.Options;
using TopicBroker.Cluster;
using TopicBroker.Connections;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Storage;
using TopicBroker.Topics;

namespace TopicBroker.Ingest;

/// <summary>
/// The one path every change takes (bridge, HTTP, external writes): queue, group commit, then
/// broadcast. A single loop owns the store; each turn it takes everything queued (up to
/// <see cref="BrokerOptions.MaxIngestBatch"/>), commits once (the store gives the seqs inside that
/// transaction, see <see cref="IStateStore"/>), and only then applies and broadcasts the changes
/// in seq order and completes their publishers. An ack therefore always
/// means committed, and subscribers never see a change the store might lose.
/// </summary>
internal sealed partial class IngestPipeline : BackgroundService
{
    private readonly Channel<IngestItem> _queue;
    private readonly IStateStore _store;
    private readonly StoreHealth _storeHealth;
    private readonly TopicSequencer _sequencer;
    private readonly ICommitFeed _feed;
    private readonly TopicRegistry _topics;
    private readonly ConnectionManager _connections;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<IngestPipeline> _logger;
    private readonly int _maxBatch;
    private readonly int _maxEntitiesPerTopic;
    private long _committedChanges;
    private long _commits;

    public IngestPipeline(
        IStateStore store,
        StoreHealth storeHealth,
        TopicSequencer sequencer,
        ICommitFeed feed,
        TopicRegistry topics,
        ConnectionManager connections,
        IOptions<BrokerOptions> options,
        TimeProvider timeProvider,
        ILogger<IngestPipeline> logger)
    {
        _store = store;
        _storeHealth = storeHealth;
        _sequencer = sequencer;
        _feed = feed;
        _topics = topics;
        _connections = connections;
        _timeProvider = timeProvider;
        _logger = logger;
        _maxBatch = options.Value.MaxIngestBatch;
        _maxEntitiesPerTopic = options.Value.MaxEntitiesPerTopic;
        // Bounded so publishers feel backpressure instead of the broker buffering without limit;
        // four batches' worth keeps the committer busy while the next batch gathers.
        _queue = Channel.CreateBounded<IngestItem>(new BoundedChannelOptions(_maxBatch * 4)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>False after a commit failed, until one succeeds again.</summary>
    public bool IsStoreHealthy => _storeHealth.IsHealthy;

    public long CommittedChanges => Interlocked.Read(ref _committedChanges);

    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Loads every topic's committed state; runs before the server accepts anyone.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await CreateStoredSitesAsync(cancellationToken).ConfigureAwait(false);
        var loaded = await _store.LoadAsync([.. _topics.All.Select(topic => topic.Name)], cancellationToken).ConfigureAwait(false);
        foreach (var stored in loaded)
        {
            var topic = Resolve(stored.Topic);
            topic.Load(
                stored.Seq,
                stored.Entities,
                stored.History.Select(change => FrameSerializer.Update(topic.Name, change.Seq, change.Id, change.Data)));
            // What the cluster link received for this topic before the load is applied after it, or dropped.
            _sequencer.MarkLoaded(topic);
            Log.TopicLoaded(_logger, topic.Name, stored.Seq, stored.Entities.Count, stored.History.Count);
        }

        _sequencer.CompleteStartupLoad();

        // Pick up what other programs wrote while the broker was down.
        _queue.Writer.TryWrite(PollRequest.Instance);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Queues a validated change and completes when it is committed and broadcast (or rejected).</summary>
    public Task<PublishResult> PublishAsync(InboundChange change, CancellationToken cancellationToken)
    {
        var pending = new PendingChange(change, _timeProvider.GetTimestamp());
        var write = _queue.Writer.WriteAsync(pending, cancellationToken);
        return write.IsCompletedSuccessfully ? pending.Completion : AwaitQueuedAsync(write, pending);
    }

    /// <summary>Asks the loop to look for other programs' writes (docs/operations.md "SQLite schema and external writers").</summary>
    public void RequestPoll() => _queue.Writer.TryWrite(PollRequest.Instance);

    /// <summary>Takes no new work, and returns once everything queued is committed, broadcast and answered.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        if (ExecuteTask is { } loop)
        {
            await loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await DrainAsync(cancellationToken).ConfigureAwait(false);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The loop deliberately ignores stoppingToken: shutdown completes the queue instead, so
        // every change already accepted is committed and answered before the process exits.
        await Task.Yield();
        var reader = _queue.Reader;
        var batch = new List<PendingChange>(_maxBatch);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var poll = false;
            while (batch.Count < _maxBatch && reader.TryRead(out var item))
            {
                if (item is PendingChange change)
                {
                    batch.Add(change);
                }
                else if (item is LoopWork work)
                {
                    // In queue order: what came before it is committed first.
                    await CommitAndBroadcastAsync(batch).ConfigureAwait(false);
                    batch.Clear();
                    await work.RunAsync(this).ConfigureAwait(false);
                }
                else
                {
                    poll = true;
                }
            }

            if (batch.Count > 0)
            {
                await CommitAndBroadcastAsync(batch).ConfigureAwait(false);
                batch.Clear();
            }

            if (poll)
            {
                await CommitExternalChangesAsync().ConfigureAwait(false);
            }
        }

        Log.Drained(_logger, CommittedChanges);
    }

    private async Task CommitAndBroadcastAsync(List<PendingChange> batch)
    {
        RejectNewEntitiesOverCap(batch);
        SettleReplicatedChanges(batch);
        if (batch.Count == 0)
        {
            CompleteDuplicates(committed: true);
            return;
        }

        var changes = new NewChange[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var change = batch[i].Change;
            changes[i] = new NewChange(change.Topic.Name, change.Id, change.Data, batch[i].ReceivedTimestamp, change.ReplicatedSeq);
        }

        if (await TryCommitAsync(changes).ConfigureAwait(false) is not { } stored)
        {
            foreach (var pending in batch)
            {
                pending.Complete(PublishResult.Rejected(ErrorCodes.Unavailable, "The store could not commit; retry later."));
            }

            CompleteDuplicates(committed: false);
            return;
        }

        CheckReplicatedSeqs(batch, stored);
        var written = WrittenOf(stored);
        Broadcast(written);
        CompleteDuplicates(committed: true);
        OnChangesCommitted();
        for (var i = 0; i < stored.Count; i++)
        {
            batch[i].Complete(AnswerFor(batch[i].Change, stored[i]));
        }

        // Last: the other nodes learn of the batch after its publishers have their answers.
        _feed.Publish(written);
    }

    /// <summary>
    /// Broker:MaxEntitiesPerTopic bounds what publishers can make the broker hold: an upsert that
    /// would add one id too many is answered too_many_entities and leaves the batch.
    /// </summary>
    private void RejectNewEntitiesOverCap(List<PendingChange> batch)
    {
        Dictionary<TopicState, int>? added = null;
        batch.RemoveAll(pending =>
        {
            var change = pending.Change;
            if (change.Data is null || change.Topic.ContainsEntity(change.Id))
            {
                return false;
            }

            added ??= [];
            var count = added.GetValueOrDefault(change.Topic);
            if (change.Topic.EntityCount + count >= _maxEntitiesPerTopic)
            {
                pending.Complete(PublishResult.Rejected(ErrorCodes.TooManyEntities, $"The topic holds Broker:MaxEntitiesPerTopic ({_maxEntitiesPerTopic}) ids; delete some or update existing ones."));
                return true;
            }

            added[change.Topic] = count + 1;
            return false;
        });
    }

    private async Task CommitExternalChangesAsync()
    {
        IReadOnlyList<StoredChange> external;
        try
        {
            external = await _store.CommitExternalChangesAsync(name => ResolveExternalTopic(name) is not null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            // Nothing was claimed (the transaction rolled back); the next poll retries.
            Log.PollFailed(_logger, ex);
            return;
        }

        if (external.Count == 0)
        {
            return;
        }

        Interlocked.Add(ref _committedChanges, external.Count);
        Interlocked.Increment(ref _commits);
        Log.ExternalChangesCommitted(_logger, external.Count);
        Broadcast(external);
        OnChangesCommitted();
        _feed.Publish(external);
    }

    private async Task<IReadOnlyList<StoredChange>?> TryCommitAsync(NewChange[] changes)
    {
        try
        {
            var committed = await _store.CommitAsync(changes, CancellationToken.None).ConfigureAwait(false);
            if (_storeHealth.MarkHealthy())
            {
                Log.StoreRecovered(_logger);
            }

            Interlocked.Add(ref _committedChanges, changes.Length);
            Interlocked.Increment(ref _commits);
            return committed;
        }
        catch (StoreUnavailableException ex)
        {
            // Nothing of this batch exists anywhere, its seqs included (they were taken inside the
            // transaction that rolled back).
            if (_storeHealth.MarkFailed())
            {
                Log.StoreFailed(_logger, ex);
            }

            return null;
        }
    }

    /// <summary>
    /// Applies committed changes through the sequencer: on one node each is its topic's next seq and
    /// is applied at once; in a cluster another node may have committed seqs in between, which
    /// the sequencer waits for (protocol.md "Cluster").
    /// </summary>
    private void Broadcast(IReadOnlyList<StoredChange> changes)
    {
        foreach (var change in changes)
        {
            _sequencer.Offer(change);
        }
    }

    /// <summary>The store only ever names topics this broker asked it about.</summary>
    private TopicState Resolve(string name) =>
        _topics.TryGet(name, out var topic) ? topic : throw new InvalidOperationException($"The store returned unknown topic {name}.");

    private static async Task<PublishResult> AwaitQueuedAsync(ValueTask write, PendingChange pending)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return PublishResult.ShuttingDown;
        }

        return await pending.Completion.ConfigureAwait(false);
    }

    private abstract class IngestItem;

    private sealed class PollRequest : IngestItem
    {
        public static readonly PollRequest Instance = new();
    }

    private sealed class PendingChange(InboundChange change, long receivedTimestamp) : IngestItem
    {
        private readonly TaskCompletionSource<PublishResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public InboundChange Change { get; } = change;

        /// <summary>When the change arrived (TimeProvider timestamp): the start of publish-to-send latency.</summary>
        public long ReceivedTimestamp { get; } = receivedTimestamp;

        public Task<PublishResult> Completion => _completion.Task;

        public void Complete(PublishResult result) => _completion.TrySetResult(result);
    }
}
