using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using TopicBroker.Hosting;
using TopicBroker.Protocol.Inbound;

namespace TopicBroker.Storage;

/// <summary>
/// The durable state on PostgreSQL, shared by every node of a cluster (docs/operations.md "Cluster mode").
/// A commit locks each topic row of its batch in sorted topic order as its first statement
/// (<c>INSERT ... ON CONFLICT DO UPDATE SET seq = seq + n RETURNING seq</c>) and holds the locks
/// until it commits: two nodes writing one topic take turns, so seqs are contiguous and commit
/// order is seq order, and sorted order means two batches never wait on each other in a cycle.
/// Each call takes a pooled connection, so the cluster's backfills may read while the pipeline
/// commits.
/// </summary>
internal sealed partial class PostgresStateStore : IStateStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly int _historySize;
    private readonly ILogger<PostgresStateStore> _logger;
    // Ingest timestamps of external changes (OutboundFrame.IngestTimestamp) come from the broker's one clock.
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _migrateGate = new(1, 1);
    private readonly HashSet<(string, string)> _ignoredRows = [];
    private volatile bool _migrated;

    public PostgresStateStore(IOptions<BrokerOptions> options, TimeProvider timeProvider, ILogger<PostgresStateStore> logger)
    {
        _logger = logger;
        _timeProvider = timeProvider;
        _historySize = options.Value.HistorySize;
        var connectionString = options.Value.Storage.ConnectionString;
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        // A store that stops answering must be noticed in seconds, not after Npgsql's 15 s/30 s
        // defaults: publishers are answered 'unavailable' meanwhile (protocol.md "Cluster").
        if (!given.ContainsKey("Timeout"))
        {
            builder.Timeout = 5;
        }

        if (!given.ContainsKey("Command Timeout") && !given.ContainsKey("CommandTimeout"))
        {
            builder.CommandTimeout = 10;
        }

        builder.ApplicationName ??= "topicbroker";
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    public async Task<IReadOnlyList<StoredTopic>> LoadAsync(IReadOnlyList<string> topics, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            // One snapshot for everything: the seqs, entities and history of every topic as of one
            // commit, so a node joining the cluster starts from a state that really existed.
            await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
            var names = topics.ToArray();

            var seqs = new Dictionary<string, long>(StringComparer.Ordinal);
            await using (var command = new NpgsqlCommand("SELECT topic, seq FROM topics WHERE topic = ANY(@topics)", connection, transaction))
            {
                command.Parameters.AddWithValue("topics", names);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    seqs[reader.GetString(0)] = reader.GetInt64(1);
                }
            }

            var entities = names.ToDictionary(n => n, _ => new List<KeyValuePair<string, byte[]>>(), StringComparer.Ordinal);
            await using (var command = new NpgsqlCommand("SELECT topic, id, data FROM entities WHERE topic = ANY(@topics) AND seq IS NOT NULL", connection, transaction))
            {
                command.Parameters.AddWithValue("topics", names);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    entities[reader.GetString(0)].Add(new(reader.GetString(1), Encoding.UTF8.GetBytes(reader.GetString(2))));
                }
            }

            var history = names.ToDictionary(n => n, _ => new List<StoredChange>(), StringComparer.Ordinal);
            await using (var command = new NpgsqlCommand(
                "SELECT topic, seq, id, op, data FROM updates WHERE topic = ANY(@topics) ORDER BY topic, seq", connection, transaction))
            {
                command.Parameters.AddWithValue("topics", names);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    history[reader.GetString(0)].Add(ReadChange(reader, 1, reader.GetString(0)));
                }
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return [.. names.Select(name =>
            {
                var changes = history[name];
                // Another node may keep a longer history; this one holds its own HistorySize.
                var newest = changes.Count > _historySize ? changes.GetRange(changes.Count - _historySize, _historySize) : changes;
                return new StoredTopic(name, seqs.GetValueOrDefault(name), entities[name], newest);
            })];
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not load state: {ex.Message}", ex);
        }
    }

    public async Task<IReadOnlyList<StoredChange>> CommitAsync(IReadOnlyList<NewChange> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return [];
        }

        try
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await CommitOnceAsync(batch, overwriteHistory: false, cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && ex.ConstraintName == "updates_pkey")
            {
                // A history row already holds one of the new seqs: only another program can have
                // put it there (or moved the topic's seq back without clearing its history). The
                // batch is written again, replacing those rows, as SQLite's INSERT OR REPLACE does.
                Log.StrayHistoryRowsReplaced(_logger, ex.Detail ?? ex.MessageText);
                return await CommitOnceAsync(batch, overwriteHistory: true, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not commit: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// One transaction for the batch. The history insert is a plain INSERT unless
    /// <paramref name="overwriteHistory"/>: an <c>ON CONFLICT</c> check first searches the
    /// primary key once more for every row, about a fifth of PostgreSQL's time in the cluster
    /// bench (BENCHMARKS.md "Cluster (issue 11)"), for a conflict that the topic row lock rules out.
    /// </summary>
    private async Task<IReadOnlyList<StoredChange>> CommitOnceAsync(IReadOnlyList<NewChange> batch, bool overwriteHistory, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Site topics first: their rows locked and their committed seqs read, so a replicated
        // change is written only as its topic's next seq (see ReplicatedSeqs). Site topics
        // are locked before the others in every transaction that writes both, and sorted
        // within each kind, so no two transactions wait on each other in a cycle.
        var outcomes = new ReplicatedWrite[batch.Count];
        var replicatedTopics = ReplicatedSeqs.TopicsOf(batch);
        if (replicatedTopics.Length > 0)
        {
            outcomes = ReplicatedSeqs.Settle(batch, await LockTopicsAsync(connection, transaction, replicatedTopics, cancellationToken).ConfigureAwait(false));
        }

        var all = batch;
        batch = ReplicatedSeqs.Written(all, outcomes);
        if (batch.Count == 0)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return ReplicatedSeqs.Merge(all, outcomes, []);
        }

        var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var change in batch)
        {
            counts[change.Topic] = counts.GetValueOrDefault(change.Topic) + 1;
        }

        // The first statement takes the topic row locks, in sorted order (see the class comment).
        var next = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("""
            INSERT INTO topics (topic, seq)
            SELECT topic, n FROM unnest(@topics, @counts) AS b(topic, n) ORDER BY topic
            ON CONFLICT (topic) DO UPDATE SET seq = topics.seq + excluded.seq
            RETURNING topic, seq
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("topics", counts.Keys.ToArray());
            command.Parameters.AddWithValue("counts", counts.Values.ToArray());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var topic = reader.GetString(0);
                next[topic] = reader.GetInt64(1) - counts[topic] + 1;
            }
        }

        var committed = new StoredChange[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var change = batch[i];
            committed[i] = new StoredChange(change.Topic, next[change.Topic]++, change.Id, change.Data, change.IngestTimestamp);
        }

        await WriteChangesAsync(connection, transaction, committed, next, overwriteHistory, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return replicatedTopics.Length == 0 ? committed : ReplicatedSeqs.Merge(all, outcomes, committed);
    }

    /// <summary>Locks the rows of <paramref name="topics"/> (sorted) until the transaction ends, creating missing ones at seq 0; returns their seqs.</summary>
    private static async Task<Dictionary<string, long>> LockTopicsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string[] topics, CancellationToken cancellationToken)
    {
        var seqs = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand("""
            INSERT INTO topics (topic, seq) SELECT topic, 0 FROM unnest(@topics) AS t(topic) ORDER BY topic
            ON CONFLICT (topic) DO UPDATE SET seq = topics.seq
            RETURNING topic, seq
            """, connection, transaction);
        command.Parameters.AddWithValue("topics", topics);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            seqs[reader.GetString(0)] = reader.GetInt64(1);
        }

        return seqs;
    }

    /// <summary>
    /// Claims other programs' writes under the same topic row locks a commit takes, so of several
    /// nodes polling at once exactly one claims each row: the others, once it commits, find the
    /// row's seq set and its tombstone gone.
    /// </summary>
    public async Task<IReadOnlyList<StoredChange>> CommitExternalChangesAsync(Func<string, bool> isTopic, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

            // Cheap when nobody wrote: one index lookup and one small scan, no transaction.
            var candidates = new SortedSet<string>(StringComparer.Ordinal);
            await using (var command = new NpgsqlCommand(
                "SELECT DISTINCT topic FROM entities WHERE seq IS NULL UNION SELECT DISTINCT topic FROM external_deletes", connection))
            {
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (isTopic(reader.GetString(0)))
                    {
                        candidates.Add(reader.GetString(0));
                    }
                }
            }

            if (candidates.Count == 0)
            {
                return [];
            }

            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var topics = candidates.ToArray();
            var next = (await LockTopicsAsync(connection, transaction, topics, cancellationToken).ConfigureAwait(false))
                .ToDictionary(locked => locked.Key, locked => locked.Value + 1, StringComparer.Ordinal);

            // Read under the locks: what another node claimed meanwhile is no longer unseen.
            var now = _timeProvider.GetTimestamp();
            var changes = new List<StoredChange>();
            var upserted = new HashSet<(string, string)>();
            await using (var command = new NpgsqlCommand(
                "SELECT topic, id, data FROM entities WHERE seq IS NULL AND topic = ANY(@topics) ORDER BY topic, id", connection, transaction))
            {
                command.Parameters.AddWithValue("topics", topics);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var topic = reader.GetString(0);
                    var id = reader.GetString(1);
                    var data = Encoding.UTF8.GetBytes(reader.GetString(2));
                    if (!EntityRules.IsJsonObject(data))
                    {
                        if (_ignoredRows.Add((topic, id)))
                        {
                            Log.ExternalRowIgnored(_logger, topic, id);
                        }

                        continue;
                    }

                    upserted.Add((topic, id));
                    changes.Add(new StoredChange(topic, next[topic]++, id, data, now));
                }
            }

            await using (var command = new NpgsqlCommand(
                "SELECT DISTINCT topic, id FROM external_deletes WHERE topic = ANY(@topics) ORDER BY topic, id", connection, transaction))
            {
                command.Parameters.AddWithValue("topics", topics);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var topic = reader.GetString(0);
                    var id = reader.GetString(1);
                    // Deleted and written again before this poll: the write wins.
                    if (!upserted.Contains((topic, id)))
                    {
                        changes.Add(new StoredChange(topic, next[topic]++, id, null, now));
                    }
                }
            }

            if (changes.Count == 0)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return [];
            }

            await using (var command = new NpgsqlCommand(
                "UPDATE topics SET seq = s.seq FROM unnest(@topics, @seqs) AS s(topic, seq) WHERE topics.topic = s.topic", connection, transaction))
            {
                command.Parameters.AddWithValue("topics", next.Keys.ToArray());
                command.Parameters.AddWithValue("seqs", next.Values.Select(following => following - 1).ToArray());
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await WriteChangesAsync(connection, transaction, changes, next, overwriteHistory: true, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            changes.Sort((a, b) => a.Topic == b.Topic ? a.Seq.CompareTo(b.Seq) : string.CompareOrdinal(a.Topic, b.Topic));
            return changes;
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not take in external writes: {ex.Message}", ex);
        }
    }

    public async Task<IReadOnlyList<StoredChange>> ReadChangesAsync(string topic, long after, long upTo, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
            await using var command = _dataSource.CreateCommand(
                "SELECT seq, id, op, data FROM updates WHERE topic = @topic AND seq > @after AND seq <= @upTo ORDER BY seq");
            command.Parameters.AddWithValue("topic", topic);
            command.Parameters.AddWithValue("after", after);
            command.Parameters.AddWithValue("upTo", upTo);
            var changes = new List<StoredChange>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                changes.Add(ReadChange(reader, 0, topic));
            }

            return changes;
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not read history: {ex.Message}", ex);
        }
    }

    public async Task<IReadOnlyList<string>> LoadSiteNamesAsync(CancellationToken cancellationToken)
    {
        try
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
            // PostgreSQL keeps no insertion order; sites come in name order.
            await using var command = _dataSource.CreateCommand(
                "SELECT DISTINCT split_part(topic, '/', 1) AS site FROM topics WHERE position('/' in topic) > 1 ORDER BY site");
            var sites = new List<string>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                sites.Add(reader.GetString(0));
            }

            return sites;
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not read sites: {ex.Message}", ex);
        }
    }

    public async Task<IReadOnlyDictionary<string, long>> ReadCommittedSeqsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await ReadTopicNumbersAsync("SELECT topic, seq FROM topics", cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not read topic seqs: {ex.Message}", ex);
        }
    }

    /// <summary>Runs a query of (topic, number) rows, migrated first, into a dictionary by topic.</summary>
    private async Task<Dictionary<string, long>> ReadTopicNumbersAsync(string sql, CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        await using var command = _dataSource.CreateCommand(sql);
        var numbers = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            numbers[reader.GetString(0)] = reader.GetInt64(1);
        }

        return numbers;
    }

    public async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync().ConfigureAwait(false);
        _migrateGate.Dispose();
    }

    private async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        if (_migrated)
        {
            return;
        }

        await _migrateGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_migrated)
            {
                await PostgresSchema.MigrateAsync(_dataSource, cancellationToken).ConfigureAwait(false);
                await TrimHistoryAsync(cancellationToken).ConfigureAwait(false);
                _migrated = true;
            }
        }
        finally
        {
            _migrateGate.Release();
        }
    }

    /// <summary>
    /// Trims every topic's history to this node's <see cref="BrokerOptions.HistorySize"/> once, at
    /// start-up: a commit trims only the seqs it pushes out (see WriteChangesAsync), so history
    /// kept by an earlier, larger HistorySize goes here.
    /// </summary>
    private async Task TrimHistoryAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            "DELETE FROM updates u USING topics t WHERE u.topic = t.topic AND u.seq <= t.seq - @historySize");
        command.Parameters.AddWithValue("historySize", (long)_historySize);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes committed changes set-wise (a few statements per batch, not per change): the history
    /// rows, each id's last change in the batch to <c>entities</c>, the tombstones of every id
    /// touched cleared, and history beyond <see cref="BrokerOptions.HistorySize"/> trimmed.
    /// <paramref name="next"/> holds each topic's seq after the batch.
    /// </summary>
    private async Task WriteChangesAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        IReadOnlyList<StoredChange> changes,
        Dictionary<string, long> next,
        bool overwriteHistory,
        CancellationToken cancellationToken)
    {
        var count = changes.Count;
        var topics = new string[count];
        var seqs = new long[count];
        var ids = new string[count];
        var ops = new string[count];
        var datas = new string?[count];
        var last = new Dictionary<(string, string), int>();
        for (var i = 0; i < count; i++)
        {
            var change = changes[i];
            topics[i] = change.Topic;
            seqs[i] = change.Seq;
            ids[i] = change.Id;
            ops[i] = change.Data is null ? "delete" : "upsert";
            datas[i] = change.Data is null ? null : Encoding.UTF8.GetString(change.Data);
            last[(change.Topic, change.Id)] = i;
        }

        var finals = last.Values.Order().ToArray();
        var deleted = finals.Where(i => changes[i].Data is null).ToArray();
        var upsertedRows = finals.Where(i => changes[i].Data is not null).ToArray();

        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command(
            overwriteHistory
                ? "INSERT INTO updates (topic, seq, id, op, data) SELECT * FROM unnest(@p1, @p2, @p3, @p4, @p5) ON CONFLICT (topic, seq) DO UPDATE SET id = excluded.id, op = excluded.op, data = excluded.data"
                : "INSERT INTO updates (topic, seq, id, op, data) SELECT * FROM unnest(@p1, @p2, @p3, @p4, @p5)",
            topics, seqs, ids, ops, datas));
        if (deleted.Length > 0)
        {
            batch.BatchCommands.Add(Command(
                "DELETE FROM entities e USING unnest(@p1, @p2) AS d(topic, id) WHERE e.topic = d.topic AND e.id = d.id",
                deleted.Select(i => topics[i]).ToArray(), deleted.Select(i => ids[i]).ToArray()));
        }

        if (upsertedRows.Length > 0)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO entities (topic, id, data, seq) SELECT * FROM unnest(@p1, @p2, @p3, @p4)
                ON CONFLICT (topic, id) DO UPDATE SET data = excluded.data, seq = excluded.seq
                """,
                upsertedRows.Select(i => topics[i]).ToArray(), upsertedRows.Select(i => ids[i]).ToArray(),
                upsertedRows.Select(i => datas[i]!).ToArray(), upsertedRows.Select(i => seqs[i]).ToArray()));
        }

        // A tombstone left by another program's earlier delete of this id is settled by this
        // newer change, whichever it is; left behind, the poll would replay the old delete later.
        batch.BatchCommands.Add(Command(
            "DELETE FROM external_deletes x USING unnest(@p1, @p2) AS t(topic, id) WHERE x.topic = t.topic AND x.id = t.id",
            finals.Select(i => topics[i]).ToArray(), finals.Select(i => ids[i]).ToArray()));
        // Only the seqs this batch pushes out of the history: everything below them went with
        // earlier commits (and at start-up, TrimHistoryAsync). A range from 0 would walk every dead
        // row of the topic's history that VACUUM has not reclaimed yet, on every commit, and
        // commits slow down as those pile up.
        var first = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var change in changes)
        {
            if (!first.TryGetValue(change.Topic, out var seq) || change.Seq < seq)
            {
                first[change.Topic] = change.Seq;
            }
        }

        var trimmed = next.Keys.Where(first.ContainsKey).ToArray();
        batch.BatchCommands.Add(Command(
            "DELETE FROM updates u USING unnest(@p1, @p2, @p3) AS c(topic, low, cutoff) WHERE u.topic = c.topic AND u.seq > c.low AND u.seq <= c.cutoff",
            trimmed,
            trimmed.Select(topic => first[topic] - 1 - _historySize).ToArray(),
            trimmed.Select(topic => next[topic] - 1 - _historySize).ToArray()));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] arrays)
    {
        var command = new NpgsqlBatchCommand(sql);
        for (var i = 0; i < arrays.Length; i++)
        {
            var parameter = arrays[i] switch
            {
                long[] values => new NpgsqlParameter($"p{i + 1}", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = values },
                _ => new NpgsqlParameter($"p{i + 1}", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = arrays[i] },
            };
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private static StoredChange ReadChange(NpgsqlDataReader reader, int first, string topic)
    {
        var data = reader.GetString(first + 2) == "delete" || reader.IsDBNull(first + 3) ? null : Encoding.UTF8.GetBytes(reader.GetString(first + 3));
        return new StoredChange(topic, reader.GetInt64(first), reader.GetString(first + 1), data);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Row {Topic}/{Id} written by another program is ignored: data that is not a JSON object")]
        public static partial void ExternalRowIgnored(ILogger logger, string topic, string id);

        [LoggerMessage(2, LogLevel.Warning, "History rows already held seqs of a new batch ({Detail}); the batch was written again, replacing them")]
        public static partial void StrayHistoryRowsReplaced(ILogger logger, string detail);
    }
}
