using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TopicBroker.Connections;
using TopicBroker.Hosting;
using TopicBroker.Ingest;
using TopicBroker.Storage;
using TopicBroker.Topics;

namespace TopicBroker.Cluster;

/// <summary>The state of this node's Redis link, as status and metrics report it.</summary>
internal enum ClusterLinkState
{
    /// <summary>Connected and subscribed, and messages (at least this node's own heartbeats) arrive.</summary>
    Up,

    /// <summary>Not connected to Redis: delivery goes on from the store within Broker:Cluster:RepairDelay.</summary>
    Down,

    /// <summary>Connected, but the subscription delivered nothing for three heartbeats.</summary>
    Quiet,
}

/// <summary>
/// Cluster delivery (protocol.md "Cluster", docs/operations.md "Cluster mode"). After each commit the
/// pipeline hands the committed batch here, and it goes to every other node on one Redis channel;
/// what arrives from Redis goes through the <see cref="TopicSequencer"/>, which drops duplicates
/// and holds what comes after a gap. Redis is only the fast path: a repair loop reads every
/// topic's committed seq from the store (one query per tick) and fills from the store's history
/// what is held behind a gap longer than Broker:Cluster:GapHoldTime, and what is still missing a
/// tick after it was seen committed (a lost last message), or at once while Redis is down, quiet,
/// or has just come back. The same loop watches the store: lost past Broker:Cluster:StoreLossDeadline,
/// this node sends its WebSocket clients a shutdown frame so they resume on another node.
/// </summary>
internal sealed partial class ClusterLink : BackgroundService, ICommitFeed, ITopicCatchUp
{
    private readonly ClusterOptions _options;
    private readonly TopicSequencer _sequencer;
    private readonly TopicRegistry _topics;
    private readonly IStateStore _store;
    private readonly StoreHealth _storeHealth;
    private readonly ConnectionManager _connections;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<ClusterLink> _logger;
    private readonly RedisChannel _channel;
    private readonly ClusterFaultInjector? _faults;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly ConcurrentDictionary<string, long> _committed = new(StringComparer.Ordinal);
    private readonly TimeSpan _tick;
    private ConnectionMultiplexer? _redis;
    private volatile bool _subscribed;
    private volatile bool _repairAllNow = true;
    private volatile ClusterLinkState _state = ClusterLinkState.Down;
    private long _lastReceivedTimestamp;
    private long _lastHeartbeatTimestamp;
    private bool _storeLossHandled;
    private long _backfills;
    private long _backfilledChanges;
    private long _resynchronizations;
    private long _publishFailures;
    private long _messagesReceived;

    public ClusterLink(
        IOptions<BrokerOptions> options,
        TopicSequencer sequencer,
        TopicRegistry topics,
        IStateStore store,
        StoreHealth storeHealth,
        ConnectionManager connections,
        TimeProvider timeProvider,
        ILogger<ClusterLink> logger)
    {
        _options = options.Value.Cluster;
        _sequencer = sequencer;
        _topics = topics;
        _store = store;
        _storeHealth = storeHealth;
        _connections = connections;
        _timeProvider = timeProvider;
        _logger = logger;
        NodeId = _options.ResolveNodeId();
        _channel = RedisChannel.Literal(_options.Channel + ":changes");
        _faults = _options.TestFaults.Any ? new ClusterFaultInjector(_options.TestFaults) : null;
        _tick = TimeSpan.FromTicks(Math.Min(_options.GapHoldTime.Ticks, _options.RepairDelay.Ticks / 2));
        // A site new to this node (a subscriber asked for it, or another node's change named it)
        // may hold committed changes already: the repair loop reads them from the store at once.
        _topics.SiteAdded += _ =>
        {
            _repairAllNow = true;
            _wake.Writer.TryWrite(true);
        };
    }

    public string NodeId { get; }

    public ClusterLinkState State => _state;

    public long Backfills => Interlocked.Read(ref _backfills);

    public long BackfilledChanges => Interlocked.Read(ref _backfilledChanges);

    public long Resynchronizations => Interlocked.Read(ref _resynchronizations);

    public long PublishFailures => Interlocked.Read(ref _publishFailures);

    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);

    public long DuplicatesDropped => _sequencer.DuplicatesDropped;

    /// <summary>The committed seq of a topic as the repair loop last read it.</summary>
    public long CommittedSeq(TopicState topic) => _committed.GetValueOrDefault(topic.Name);

    /// <summary>
    /// Connects and subscribes before the pipeline loads the store (it starts after this), so a
    /// change committed elsewhere meanwhile is either in the load or arrives here, held until the
    /// topic is loaded. An unreachable Redis does not stop the start: the link is down, and the
    /// repair loop delivers from the store.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var configuration = ConfigurationOptions.Parse(_options.Redis!);
        configuration.AbortOnConnectFail = false;
        configuration.ClientName ??= "topicbroker-" + NodeId;
        // Fail fast while disconnected instead of queuing without bound: what a publish loses
        // the repair loop fills in from the store.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        _redis = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        _redis.ConnectionFailed += (_, e) =>
        {
            _state = ClusterLinkState.Down;
            Log.LinkDown(_logger, NodeId, e.FailureType.ToString());
        };
        _redis.ConnectionRestored += (_, _) =>
        {
            _repairAllNow = true;
            _wake.Writer.TryWrite(true);
            Log.LinkRestored(_logger, NodeId);
        };
        await TrySubscribeAsync().ConfigureAwait(false);
        Log.Started(_logger, NodeId, _options.Channel, _state.ToString());
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_redis is not null)
        {
            await _redis.CloseAsync().ConfigureAwait(false);
            await _redis.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sends a committed batch to the other nodes; never throws, never waits (a lost message is repaired).</summary>
    public void Publish(IReadOnlyList<StoredChange> committed)
    {
        if (committed.Count == 0 || _redis is null)
        {
            return;
        }

        var message = ClusterMessage.EncodeChanges(NodeId, committed);
        if (_faults is null)
        {
            Send(message);
        }
        else
        {
            foreach (var damaged in _faults.Apply(message))
            {
                Send(damaged);
            }
        }
    }

    public async ValueTask CatchUpAsync(TopicState topic, long since, CancellationToken cancellationToken)
    {
        if (since <= topic.Seq)
        {
            return;
        }

        try
        {
            // Up to the committed seq, so the replay that follows is complete; a since past the
            // committed seq gets its snapshot, as on one node.
            var committed = await _store.ReadCommittedSeqsAsync(cancellationToken).ConfigureAwait(false);
            await BackfillAsync(topic, topic.Seq, committed.GetValueOrDefault(topic.Name), cancellationToken).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            Log.CatchUpFailed(_logger, topic.Name, since, ex);
        }
    }

    /// <summary>
    /// Applies everything committed for <paramref name="topics"/> (one read of the committed
    /// seqs, then a backfill of each topic behind it); a store that cannot answer is logged, and
    /// what is missing arrives later by the repair loop.
    /// </summary>
    public async Task CatchUpToCommittedAsync(IReadOnlyList<TopicState> topics, CancellationToken cancellationToken)
    {
        try
        {
            var committed = await _store.ReadCommittedSeqsAsync(cancellationToken).ConfigureAwait(false);
            foreach (var topic in topics)
            {
                await BackfillAsync(topic, topic.Seq, committed.GetValueOrDefault(topic.Name), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is StoreUnavailableException or OperationCanceledException)
        {
            Log.SiteCatchUpFailed(_logger, string.Join(",", topics.Select(topic => topic.Name)), ex);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.WhenAll(TickAsync(stoppingToken), RepairLoopAsync(stoppingToken)).ConfigureAwait(false);
    }

    private async Task TickAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_tick, _timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                _wake.Writer.TryWrite(true);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RepairLoopAsync(CancellationToken stoppingToken)
    {
        var previous = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            while (await _wake.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                _wake.Reader.TryRead(out _);
                try
                {
                    previous = await RepairOnceAsync(previous, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.RepairFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<Dictionary<string, long>> RepairOnceAsync(Dictionary<string, long> previous, CancellationToken cancellationToken)
    {
        SendHeartbeatIfDue();
        CheckSubscription();
        if (!_subscribed && _redis?.IsConnected == true)
        {
            await TrySubscribeAsync().ConfigureAwait(false);
        }

        IReadOnlyDictionary<string, long> committed;
        try
        {
            committed = await _store.ReadCommittedSeqsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (StoreUnavailableException ex)
        {
            if (_storeHealth.MarkFailed())
            {
                Log.StoreLost(_logger, NodeId, ex);
            }

            if (_storeHealth.FailingFor >= _options.StoreLossDeadline)
            {
                // Every tick past the deadline, so clients connecting meanwhile move on too.
                if (!_storeLossHandled)
                {
                    Log.StoreLossDeadlinePassed(_logger, NodeId, _connections.ConnectionCount);
                    _storeLossHandled = true;
                }

                _connections.CloseAllToResumeElsewhere();
            }

            return previous;
        }

        if (_storeHealth.MarkHealthy() || _storeLossHandled)
        {
            _storeLossHandled = false;
            Log.StoreBack(_logger, NodeId);
        }

        foreach (var (name, seq) in committed)
        {
            _committed[name] = seq;
            if (!_topics.TryGet(name, out _))
            {
                // A site another node stored (protocol.md "Sites and upstream replication"):
                // this node serves it too, from the changes below.
                _topics.TryAddStoredSiteOf(name, out _);
            }
        }

        // Held behind a gap for longer than the hold time: read the gap from the store.
        foreach (var (topic, applied, newestHeld) in _sequencer.GapsOlderThan(_options.GapHoldTime))
        {
            await BackfillAsync(topic, applied, Math.Max(newestHeld, committed.GetValueOrDefault(topic.Name)), cancellationToken).ConfigureAwait(false);
        }

        // Committed but not applied: at once when pub/sub cannot be trusted, else when it was
        // already committed at the previous tick (pub/sub had a whole tick to bring it).
        // (Broker:Cluster:TestFaults:SkipPeriodicCheckWhileUp, for tests only, leaves the latter
        // to the held-gap backfill above.)
        var trustPubSub = _state == ClusterLinkState.Up && !_repairAllNow;
        var periodicCheck = !_options.TestFaults.SkipPeriodicCheckWhileUp;
        _repairAllNow = false;
        foreach (var topic in _topics.All)
        {
            var seq = committed.GetValueOrDefault(topic.Name);
            var applied = topic.Seq;
            if (seq > applied && (!trustPubSub || (periodicCheck && applied < previous.GetValueOrDefault(topic.Name))))
            {
                await BackfillAsync(topic, applied, seq, cancellationToken).ConfigureAwait(false);
            }
        }

        return new Dictionary<string, long>(committed, StringComparer.Ordinal);
    }

    private async Task BackfillAsync(TopicState topic, long after, long upTo, CancellationToken cancellationToken)
    {
        if (upTo <= after)
        {
            return;
        }

        var changes = await _store.ReadChangesAsync(topic.Name, after, upTo, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _backfills);
        if (changes.Count > 0 && changes[0].Seq == after + 1)
        {
            foreach (var change in changes)
            {
                _sequencer.Offer(change);
            }

            Interlocked.Add(ref _backfilledChanges, changes.Count);
            Log.Backfilled(_logger, topic.Name, after, changes[^1].Seq);
            return;
        }

        if (topic.Seq > after)
        {
            // Applied meanwhile (pub/sub won the race); the next tick looks again if needed.
            return;
        }

        // The history no longer reaches back to this node's seq: take the whole state.
        var stored = (await _store.LoadAsync([topic.Name], cancellationToken).ConfigureAwait(false))[0];
        _sequencer.Resynchronize(topic, stored);
        Interlocked.Increment(ref _resynchronizations);
        Log.Resynchronized(_logger, topic.Name, after, stored.Seq);
    }

    private async Task TrySubscribeAsync()
    {
        try
        {
            var queue = await _redis!.GetSubscriber().SubscribeAsync(_channel).ConfigureAwait(false);
            queue.OnMessage(OnMessage);
            _subscribed = true;
            _state = _redis.IsConnected ? ClusterLinkState.Up : ClusterLinkState.Down;
            _lastReceivedTimestamp = _timeProvider.GetTimestamp();
            _repairAllNow = true;
        }
        catch (RedisException ex)
        {
            _state = ClusterLinkState.Down;
            Log.SubscribeFailed(_logger, NodeId, ex.Message);
        }
    }

    private void OnMessage(ChannelMessage message)
    {
        Volatile.Write(ref _lastReceivedTimestamp, _timeProvider.GetTimestamp());
        Interlocked.Increment(ref _messagesReceived);
        if (_state != ClusterLinkState.Up && _redis?.IsConnected == true)
        {
            // Back from quiet or down: what was missed meanwhile is read at the next tick.
            _state = ClusterLinkState.Up;
            _repairAllNow = true;
            _wake.Writer.TryWrite(true);
        }

        if (!ClusterMessage.TryDecode((byte[])message.Message!, out var kind, out var node, out var changes))
        {
            Log.UnreadableMessage(_logger, NodeId);
            return;
        }

        // A node's own batches were applied when it committed them.
        if (kind != ClusterMessage.Changes || node == NodeId)
        {
            return;
        }

        foreach (var change in changes)
        {
            _sequencer.Offer(change);
        }
    }

    private void SendHeartbeatIfDue()
    {
        if (_redis is null || _timeProvider.GetElapsedTime(_lastHeartbeatTimestamp) < _options.HeartbeatInterval)
        {
            return;
        }

        _lastHeartbeatTimestamp = _timeProvider.GetTimestamp();
        Send(ClusterMessage.EncodeHeartbeat(NodeId));
    }

    /// <summary>A connected link whose subscription brought nothing, not even this node's own heartbeats, for three intervals is quiet.</summary>
    private void CheckSubscription()
    {
        if (_redis is null)
        {
            return;
        }

        if (!_redis.IsConnected)
        {
            _state = ClusterLinkState.Down;
            return;
        }

        var silent = _timeProvider.GetElapsedTime(Volatile.Read(ref _lastReceivedTimestamp));
        if (_state == ClusterLinkState.Up && silent > _options.HeartbeatInterval * 3)
        {
            _state = ClusterLinkState.Quiet;
            Log.LinkQuiet(_logger, NodeId, silent.TotalSeconds);
        }
        else if (_state == ClusterLinkState.Down && _subscribed)
        {
            // Reconnected; it counts as up once a message (a heartbeat at least) arrives.
            _state = ClusterLinkState.Quiet;
        }
    }

    private void Send(byte[] message)
    {
        try
        {
            _redis!.GetSubscriber().Publish(_channel, message, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            Interlocked.Increment(ref _publishFailures);
        }
    }
}
