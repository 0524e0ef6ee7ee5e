namespace TopicBroker.Storage;

/// <summary>
/// The durable state and log of every topic (docs/operations.md "SQLite schema and external writers"; the PostgreSQL store keeps
/// the same tables). It speaks topic names and changes only. The store gives each change its seq
/// inside the transaction that commits it, so a failed commit takes no seq and nothing has to be
/// rolled back outside it, and several writers on one database (cluster nodes, docs/operations.md
/// "Cluster mode") still give every topic contiguous seqs in commit order.
/// </summary>
/// <remarks>Calls are not concurrent: the ingest pipeline's single loop makes them, one at a time.</remarks>
internal interface IStateStore : IAsyncDisposable
{
    /// <summary>Reads the committed state of <paramref name="topics"/> in one consistent read.</summary>
    Task<IReadOnlyList<StoredTopic>> LoadAsync(IReadOnlyList<string> topics, CancellationToken cancellationToken);

    /// <summary>
    /// Commits a batch in one transaction: each change takes its topic's next seq, in batch order;
    /// entities, history, topic seqs and history trimming are written together. Returns the
    /// changes with their seqs, in the order given. Throws <see cref="StoreUnavailableException"/>
    /// (having rolled back) when the store cannot commit.
    /// </summary>
    Task<IReadOnlyList<StoredChange>> CommitAsync(IReadOnlyList<NewChange> batch, CancellationToken cancellationToken);

    /// <summary>
    /// Claims what other programs wrote (rows without a seq, tombstones) for the topics that
    /// <paramref name="isTopic"/> accepts and commits them with new seqs in one transaction; each
    /// external change is claimed by exactly one caller. Returns the committed changes, in seq
    /// order per topic.
    /// </summary>
    Task<IReadOnlyList<StoredChange>> CommitExternalChangesAsync(Func<string, bool> isTopic, CancellationToken cancellationToken);

    /// <summary>The committed changes of <paramref name="topic"/> with seq in (<paramref name="after"/>, <paramref name="upTo"/>], in seq order, as far as the history reaches.</summary>
    Task<IReadOnlyList<StoredChange>> ReadChangesAsync(string topic, long after, long upTo, CancellationToken cancellationToken);

    /// <summary>The sites with a stored topic (a site topic is named site/topic), in the order they were first stored, at start-up.</summary>
    Task<IReadOnlyList<string>> LoadSiteNamesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores the site's <paramref name="topics"/> at seq 0 unless the site is stored already;
    /// false (nothing stored) when <paramref name="maxSites"/> other sites are stored. The count is
    /// the store's, so <c>Broker:Sites:MaxSites</c> bounds the sites of a whole cluster.
    /// </summary>
    Task<bool> RegisterSiteAsync(string site, IReadOnlyList<string> topics, int maxSites, CancellationToken cancellationToken);

    /// <summary>Every topic's committed seq, in one query.</summary>
    Task<IReadOnlyDictionary<string, long>> ReadCommittedSeqsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Replaces a topic's whole state in one transaction (a resynchronisation, protocol.md "Sites
    /// and upstream replication"): its entities become <paramref name="entities"/> at
    /// <paramref name="seq"/>, its history is emptied, its seq set (it may go down).
    /// </summary>
    Task ReplaceTopicAsync(string topic, long seq, IReadOnlyDictionary<string, byte[]> entities, CancellationToken cancellationToken);

    /// <summary>A restaurant broker's upstream positions: per topic, the seq the head office acknowledged.</summary>
    Task<IReadOnlyDictionary<string, long>> LoadUpstreamPositionsAsync(CancellationToken cancellationToken);

    Task SaveUpstreamPositionsAsync(IReadOnlyDictionary<string, long> positions, CancellationToken cancellationToken);
}
