using TopicBroker.Topics;

namespace TopicBroker.Ingest;

// Site topics (protocol.md "Sites and upstream replication").
internal sealed partial class IngestPipeline
{
    /// <summary>Creates the sites the store holds, so that start-up loads their topics with the configured ones.</summary>
    private async Task CreateStoredSitesAsync(CancellationToken cancellationToken)
    {
        if (!_topics.SitesEnabled)
        {
            return;
        }

        foreach (var site in await _store.LoadSiteNamesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_topics.TryAddStoredSite(site) != TopicLookup.Found)
            {
                Log.StoredSiteSkipped(_logger, site, _topics.MaxSites);
            }
        }
    }

    /// <summary>Topics other programs may write through the SQLite file: not site topics, which hold another broker's seqs.</summary>
    private TopicState? ResolveExternalTopic(string name) =>
        _topics.TryGet(name, out var topic) && !name.Contains('/', StringComparison.Ordinal) ? topic : null;
}
