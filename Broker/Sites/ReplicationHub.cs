using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.Options;
using TopicBroker.Cluster;
using TopicBroker.Hosting;
using TopicBroker.Ingest;
using TopicBroker.Topics;

namespace TopicBroker.Sites;

/// <summary>
/// The head office's replication links, one per site in the whole deployment (protocol.md
/// "Sites and upstream replication"): a link runs only while it holds its site's lock
/// (<see cref="ISiteLinkLocks"/>), from before its welcome until its last change is committed,
/// so two links never interleave writes, on one node or across a cluster. On this node a newer
/// link of a site replaces the older one (after a restaurant restarts, its old connection may
/// linger half-open): the older ends and releases the lock first. A link of a site whose lock
/// another node holds is refused. It is an ingest source, so a graceful shutdown stops the links
/// before the pipeline drains.
/// </summary>
internal sealed partial class ReplicationHub(
    TopicRegistry topics,
    IngestPipeline pipeline,
    ISiteLinkLocks locks,
    IOptions<BrokerOptions> options,
    TimeProvider timeProvider,
    ILogger<ReplicationHub> logger,
    ILogger<ReplicationSession> sessionLogger,
    ClusterLink? cluster = null) : IIngestSource
{
    private readonly ConcurrentDictionary<string, ReplicationSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SiteTopicLink[]> _lastLinks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ReplicationSession, Task> _running = new();
    private readonly ConcurrentDictionary<string, Task> _ended = new(StringComparer.Ordinal);
    private long _nextId;
    private volatile bool _stopping;

    public bool IsStopping => _stopping;

    /// <summary>
    /// Takes the site's lock for a new link: an older link of the site on this node is ended
    /// first (its changes committed, its lock released); null when a link elsewhere holds it.
    /// </summary>
    public async Task<SiteLinkLease?> ClaimAsync(string site, CancellationToken cancellationToken)
    {
        if (_sessions.TryGetValue(site, out var older))
        {
            Log.LinkReplaced(logger, site, older.Id);
            older.Abort();
        }

        if (_ended.TryGetValue(site, out var ended))
        {
            try
            {
                // Bounded: an older link still catching up has no session to abort yet; if it
                // outlasts this, the lock below is still held and the newer link is refused.
                await ended.WaitAsync(options.Value.CloseTimeout + options.Value.HandshakeTimeout, timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }

        return await locks.TryAcquireAsync(site, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs an accepted link until it ends, then releases <paramref name="lease"/>.
    /// <paramref name="topicNames"/> are the configured topics its token may write.
    /// </summary>
    public async Task RunAsync(string site, WebSocket socket, IReadOnlyList<string> topicNames, IPAddress? remoteAddress, SiteLinkLease lease)
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ended[site] = ended.Task;
        try
        {
            var links = topicNames
                .Select(name => topics.TryGet(SiteTopicName.Combine(site, name), out var state) ? new SiteTopicLink(name, state) : null)
                .OfType<SiteTopicLink>()
                .ToArray();
            if (cluster is not null)
            {
                // Another node may have committed this site's last changes (the link was there
                // before): apply them here first, so the welcome holds the committed seqs.
                using var catchUp = new CancellationTokenSource(options.Value.HandshakeTimeout, timeProvider);
                await cluster.CatchUpToCommittedAsync([.. links.Select(link => link.State)], catchUp.Token).ConfigureAwait(false);
            }

            var session = new ReplicationSession(
                Interlocked.Increment(ref _nextId), site, remoteAddress, socket, pipeline, links,
                options.Value.Sites.MaxReplicationMessageBytes, options.Value.CloseTimeout, timeProvider.GetUtcNow(), timeProvider, sessionLogger);
            _sessions[site] = session;
            _lastLinks[site] = links;
            var run = session.RunAsync();
            _running[session] = run;
            if (_stopping)
            {
                session.RequestStop();
            }

            // A lock that can no longer be vouched for ends the link, so it stops writing.
            using var lost = lease.Lost.Register(session.Abort);
            try
            {
                await run.ConfigureAwait(false);
            }
            finally
            {
                _running.TryRemove(session, out _);
                _sessions.TryRemove(KeyValuePair.Create(site, session));
            }
        }
        finally
        {
            await lease.DisposeAsync().ConfigureAwait(false);
            _ended.TryRemove(KeyValuePair.Create(site, ended.Task));
            ended.TrySetResult();
        }
    }

    public async Task StopAcceptingAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        foreach (var session in _sessions.Values)
        {
            session.RequestStop();
        }

        try
        {
            await Task.WhenAll(_running.Values).WaitAsync(options.Value.ShutdownTimeout, timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            foreach (var session in _sessions.Values)
            {
                session.Abort();
            }
        }
    }

    /// <summary>Per site: whether its link is up, and per topic the seqs received, acknowledged and reported by the restaurant.</summary>
    public SitesStatus GetStatus()
    {
        var sites = new Dictionary<string, SiteStatus>(StringComparer.Ordinal);
        foreach (var site in topics.Sites)
        {
            var connected = _sessions.TryGetValue(site, out var session);
            var links = connected ? session!.Topics.ToArray() : _lastLinks.GetValueOrDefault(site) ?? [];
            var topicStatuses = new Dictionary<string, SiteTopicStatus>(StringComparer.Ordinal);
            foreach (var link in links)
            {
                topicStatuses[link.Topic] = new SiteTopicStatus(
                    Seq: link.State.Seq,
                    Forwarded: link.Received,
                    Acknowledged: link.Acknowledged,
                    RestaurantSeq: link.RestaurantSeq,
                    Lag: Math.Max(0, link.RestaurantSeq - link.Acknowledged));
            }

            sites[site] = new SiteStatus(
                connected,
                connected ? session!.ConnectedAt : null,
                connected ? session!.RemoteAddress?.ToString() : null,
                topicStatuses);
        }

        return new SitesStatus(topics.SitesEnabled, topics.Sites.Count, topics.MaxSites, _sessions.Count, sites);
    }
}

internal sealed record SitesStatus(bool Enabled, int Count, int MaxSites, int LinksConnected, Dictionary<string, SiteStatus> Sites);

internal sealed record SiteStatus(bool Connected, DateTimeOffset? ConnectedAt, string? RemoteAddress, Dictionary<string, SiteTopicStatus> Topics);

/// <param name="Seq">The head office's seq of the site topic (the restaurant's seq it holds).</param>
/// <param name="Forwarded">The newest seq received on the link.</param>
/// <param name="Acknowledged">The newest seq committed and acknowledged.</param>
/// <param name="RestaurantSeq">The restaurant's own seq, as it last reported.</param>
/// <param name="Lag">Changes the restaurant has that the head office has not acknowledged.</param>
internal sealed record SiteTopicStatus(long Seq, long Forwarded, long Acknowledged, long RestaurantSeq, long Lag);
