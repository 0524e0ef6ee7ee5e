using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;

namespace TopicBroker.Topics;

/// <summary>What <see cref="TopicRegistry.TryResolve"/> found.</summary>
internal enum TopicLookup
{
    Found,

    /// <summary>Not a configured topic, and not <c>&lt;site&gt;/&lt;configured topic&gt;</c> with sites enabled.</summary>
    Unknown,

    /// <summary>A new site would pass <c>Broker:Sites:MaxSites</c>.</summary>
    TooManySites,
}

/// <summary>
/// The topics: the configured ones, fixed at start-up, and with <c>Broker:Sites:Enabled</c> the
/// site-scoped ones (protocol.md "Sites and upstream replication"), created a whole site at a time
/// while the broker runs. A topic, once here, stays for the life of the process.
/// </summary>
internal sealed class TopicRegistry
{
    private readonly FrozenDictionary<string, TopicState> _configured;
    private readonly ConcurrentDictionary<string, TopicState> _siteTopics = new(StringComparer.Ordinal);
    private readonly HashSet<string> _sites = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly string[] _topicNames;
    private readonly int _historySize;
    private TopicState[] _all;
    private string[] _siteNames = [];

    public TopicRegistry(IOptions<BrokerOptions> options)
    {
        _historySize = options.Value.HistorySize;
        _topicNames = [.. options.Value.Topics.Order(StringComparer.Ordinal)];
        _configured = _topicNames.ToFrozenDictionary(name => name, name => new TopicState(name, _historySize), StringComparer.Ordinal);
        _all = [.. _topicNames.Select(name => _configured[name])];
        SitesEnabled = options.Value.Sites.Enabled;
        MaxSites = options.Value.Sites.MaxSites;
    }

    /// <summary>
    /// Every topic: the configured ones in name order, then site topics in the order they were
    /// created. It only ever grows at the end, so an index into an earlier copy still names the
    /// same topic; readers that iterate it take it afresh each time to see new sites.
    /// </summary>
    public IReadOnlyList<TopicState> All => Volatile.Read(ref _all);

    /// <summary>The configured topic names, in order; each site has one topic per name.</summary>
    public IReadOnlyList<string> ConfiguredTopics => _topicNames;

    public bool SitesEnabled { get; }

    public int MaxSites { get; }

    /// <summary>The sites that exist, in creation order.</summary>
    public IReadOnlyList<string> Sites => Volatile.Read(ref _siteNames);

    /// <summary>An existing topic (configured, or of a site that exists); never creates one.</summary>
    public bool TryGet(string name, [NotNullWhen(true)] out TopicState? topic) =>
        _configured.TryGetValue(name, out topic) || _siteTopics.TryGetValue(name, out topic);

    /// <summary>
    /// An existing topic, or the topic <c>site/topic</c> of a site that does not exist yet: the site
    /// is created (in memory, with every configured topic empty at seq 0), so that a subscriber to
    /// a site with no data yet gets an empty snapshot and stays subscribed.
    /// </summary>
    public TopicLookup TryResolve(string name, [NotNullWhen(true)] out TopicState? topic)
    {
        if (TryGet(name, out topic))
        {
            return TopicLookup.Found;
        }

        if (!IsSiteTopicName(name, out var site, out _))
        {
            return TopicLookup.Unknown;
        }

        var added = TryAddSite(site);
        if (added != TopicLookup.Found)
        {
            return added;
        }

        return TryGet(name, out topic) ? TopicLookup.Found : TopicLookup.Unknown;
    }

    /// <summary>Whether <paramref name="name"/> is <c>&lt;site&gt;/&lt;configured topic&gt;</c> with sites enabled.</summary>
    public bool IsSiteTopicName(string name, out string site, out string topic) =>
        SitesEnabled & SiteTopicName.TrySplit(name, out site, out topic) && _configured.ContainsKey(topic);

    /// <summary>
    /// Raised (outside the registry's lock) after a site's topics were created, with the site's
    /// name; a cluster node then reads what the store already holds for them.
    /// </summary>
    public event Action<string>? SiteAdded;

    /// <summary>Creates a site's topics unless it exists; refused past <c>Broker:Sites:MaxSites</c>.</summary>
    public TopicLookup TryAddSite(string site) => TryAddSite(site, stored: false);

    /// <summary>
    /// Creates the topics of a site the store holds (loaded at start-up, or committed by another
    /// cluster node): never refused for <c>Broker:Sites:MaxSites</c>, which the store applied
    /// when it stored the site (<see cref="Storage.IStateStore.RegisterSiteAsync"/>).
    /// </summary>
    public TopicLookup TryAddStoredSite(string site) => TryAddSite(site, stored: true);

    /// <summary>For a site topic name (<c>site-12/orders</c>): creates its site as a stored one, and gives the topic.</summary>
    public bool TryAddStoredSiteOf(string name, [NotNullWhen(true)] out TopicState? topic)
    {
        topic = null;
        return IsSiteTopicName(name, out var site, out _) && TryAddStoredSite(site) == TopicLookup.Found && TryGet(name, out topic);
    }

    private TopicLookup TryAddSite(string site, bool stored)
    {
        if (!SitesEnabled || !SiteTopicName.IsValidSite(site))
        {
            return TopicLookup.Unknown;
        }

        lock (_gate)
        {
            if (_sites.Contains(site))
            {
                return TopicLookup.Found;
            }

            if (_sites.Count >= MaxSites && !stored)
            {
                return TopicLookup.TooManySites;
            }

            var topics = _topicNames.Select(name => new TopicState(SiteTopicName.Combine(site, name), _historySize)).ToArray();
            foreach (var topic in topics)
            {
                _siteTopics[topic.Name] = topic;
            }

            _sites.Add(site);
            // Published last, so whoever sees the site in All or Sites also finds its topics.
            Volatile.Write(ref _siteNames, [.. _siteNames, site]);
            Volatile.Write(ref _all, [.. _all, .. topics]);
        }

        SiteAdded?.Invoke(site);
        return TopicLookup.Found;
    }
}
