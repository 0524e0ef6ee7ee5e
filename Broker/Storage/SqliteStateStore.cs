using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Protocol.Inbound;

namespace TopicBroker.Storage;

/// <summary>
/// The durable state: one SQLite file in WAL mode (schema in docs/operations.md "SQLite schema and external writers"). Used by the
/// ingest pipeline's single thread only, so it holds one connection and reuses prepared commands;
/// SQLite answers at once, so every call completes synchronously.
/// </summary>
internal sealed partial class SqliteStateStore : IStateStore
{
    private readonly SqliteConnection _connection;
    private readonly int _historySize;
    private readonly ILogger<SqliteStateStore> _logger;
    // Ingest timestamps of external changes (OutboundFrame.IngestTimestamp) come from the broker's one clock.
    private readonly TimeProvider _timeProvider;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _delete;
    private readonly SqliteCommand _clearTombstone;
    private readonly SqliteCommand _appendHistory;
    private readonly SqliteCommand _advanceTopicSeq;
    private readonly SqliteCommand _trimHistory;
    private readonly SqliteCommand _dataVersion;
    private long _lastDataVersion;

    /// <summary>No data_version seen yet: the next poll reads the external rows whatever the version.</summary>
    private const long UnknownDataVersion = long.MinValue;

    public SqliteStateStore(IOptions<BrokerOptions> options, TimeProvider timeProvider, ILogger<SqliteStateStore> logger)
    {
        _logger = logger;
        _timeProvider = timeProvider;
        _historySize = options.Value.HistorySize;
        Path = ResolvePath(options.Value.Database);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);

        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode = WAL");
        Execute(options.Value.Synchronous == SynchronousMode.Full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        // Other programs may write the file (docs/operations.md "SQLite schema and external writers"); wait for their locks a while
        // rather than failing a whole batch at once.
        Execute("PRAGMA busy_timeout = 5000");
        SqliteSchema.Migrate(_connection);

        _upsert = Prepare("""
            INSERT INTO entities (topic, id, data, seq) VALUES ($topic, $id, CAST($data AS TEXT), $seq)
            ON CONFLICT (topic, id) DO UPDATE SET data = excluded.data, seq = excluded.seq
            """, "$topic", "$id", "$data", "$seq");
        _delete = Prepare("DELETE FROM entities WHERE topic = $topic AND id = $id", "$topic", "$id");
        _clearTombstone = Prepare("DELETE FROM external_deletes WHERE topic = $topic AND id = $id", "$topic", "$id");
        _appendHistory = Prepare(
            "INSERT OR REPLACE INTO updates (topic, seq, id, op, data) VALUES ($topic, $seq, $id, $op, CAST($data AS TEXT))",
            "$topic", "$seq", "$id", "$op", "$data");
        // The topic's seq moves by the batch's count inside the write transaction and the new value
        // comes back: the seqs are taken where they are committed (IStateStore).
        _advanceTopicSeq = Prepare(
            "INSERT INTO topics (topic, seq) VALUES ($topic, $count) ON CONFLICT (topic) DO UPDATE SET seq = seq + excluded.seq RETURNING seq",
            "$topic", "$count");
        _trimHistory = Prepare("DELETE FROM updates WHERE topic = $topic AND seq <= $cutoff", "$topic", "$cutoff");
        _dataVersion = Prepare("PRAGMA data_version");
        // Not read here: data_version only compares commits made while this connection is open,
        // so a value read now would hide every row written while the broker was down. Unknown
        // makes the start-up poll look (docs/operations.md "SQLite schema and external writers").
        _lastDataVersion = UnknownDataVersion;
    }

    /// <summary>The full path of the database file.</summary>
    public string Path { get; }

    public static string ResolvePath(string database) =>
        System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(database) ? database : System.IO.Path.Combine(AppContext.BaseDirectory, database));

    public Task<IReadOnlyList<StoredTopic>> LoadAsync(IReadOnlyList<string> topics, CancellationToken cancellationToken)
    {
        // One read transaction: every topic as of the same commit.
        using var transaction = _connection.BeginTransaction(deferred: true);
        var loaded = new List<StoredTopic>(topics.Count);
        foreach (var topic in topics)
        {
            loaded.Add(LoadTopic(transaction, topic));
        }

        transaction.Commit();
        return Task.FromResult<IReadOnlyList<StoredTopic>>(loaded);
    }

    private StoredTopic LoadTopic(SqliteTransaction transaction, string topic)
    {
        long seq;
        using (var command = Prepare("SELECT seq FROM topics WHERE topic = $topic", "$topic"))
        {
            command.Transaction = transaction;
            command.Parameters[0].Value = topic;
            seq = command.ExecuteScalar() is long value ? value : 0;
        }

        var entities = new List<KeyValuePair<string, byte[]>>();
        using (var command = Prepare("SELECT id, data FROM entities WHERE topic = $topic AND seq IS NOT NULL", "$topic"))
        {
            command.Transaction = transaction;
            command.Parameters[0].Value = topic;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                entities.Add(new(reader.GetString(0), reader.GetFieldValue<byte[]>(1)));
            }
        }

        var history = ReadHistory(transaction, topic, 0, seq, _historySize);
        return new StoredTopic(topic, seq, entities, history);
    }

    /// <summary>The newest <paramref name="limit"/> changes with seq in (after, upTo], oldest first.</summary>
    private List<StoredChange> ReadHistory(SqliteTransaction? transaction, string topic, long after, long upTo, long limit)
    {
        var history = new List<StoredChange>();
        using (var command = Prepare(
            "SELECT seq, id, op, data FROM updates WHERE topic = $topic AND seq > $after AND seq <= $upTo ORDER BY seq DESC LIMIT $limit",
            "$topic", "$after", "$upTo", "$limit"))
        {
            command.Transaction = transaction;
            command.Parameters[0].Value = topic;
            command.Parameters[1].Value = after;
            command.Parameters[2].Value = upTo;
            command.Parameters[3].Value = limit;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var data = reader.GetString(2) == "delete" || reader.IsDBNull(3) ? null : reader.GetFieldValue<byte[]>(3);
                history.Add(new StoredChange(topic, reader.GetInt64(0), reader.GetString(1), data));
            }
        }

        history.Reverse();
        return history;
    }

    public Task<IReadOnlyList<StoredChange>> CommitAsync(IReadOnlyList<NewChange> batch, CancellationToken cancellationToken)
    {
        try
        {
            using var transaction = _connection.BeginTransaction();
            var outcomes = new ReplicatedWrite[batch.Count];
            var replicatedTopics = ReplicatedSeqs.TopicsOf(batch);
            if (replicatedTopics.Length > 0)
            {
                // Applied at most once by the restaurant's seq, decided in the transaction (see ReplicatedSeqs).
                outcomes = ReplicatedSeqs.Settle(batch, ReadTopicSeqs(transaction, replicatedTopics));
            }

            var written = WriteBatch(transaction, replicatedTopics.Length == 0 ? batch : ReplicatedSeqs.Written(batch, outcomes));
            transaction.Commit();
            IReadOnlyList<StoredChange> committed = replicatedTopics.Length == 0 ? written : ReplicatedSeqs.Merge(batch, outcomes, written);
            // Our own commits do not move our connection's data_version; only other programs' do.
            return Task.FromResult(committed);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite could not commit ({ex.SqliteErrorCode}): {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Picks up what other programs wrote since the last call and commits it with new seqs, in one
    /// write transaction, so a program writing meanwhile waits for it and nothing is read stale or
    /// overwritten. Costs one PRAGMA when nobody else has written (SQLite's data_version moves only
    /// for other connections' commits).
    /// </summary>
    public Task<IReadOnlyList<StoredChange>> CommitExternalChangesAsync(Func<string, bool> isTopic, CancellationToken cancellationToken)
    {
        try
        {
            if ((long)_dataVersion.ExecuteScalar()! == _lastDataVersion)
            {
                return Task.FromResult<IReadOnlyList<StoredChange>>([]);
            }

            using var transaction = _connection.BeginTransaction();
            _dataVersion.Transaction = transaction;
            var version = (long)_dataVersion.ExecuteScalar()!;
            var changes = WriteBatch(transaction, ReadExternalChanges(transaction, isTopic));
            transaction.Commit();

            // Only now: a failed attempt leaves the version as it was, so the next poll retries.
            _lastDataVersion = version;
            return Task.FromResult(changes);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite could not take in external writes ({ex.SqliteErrorCode}): {ex.Message}", ex);
        }
        finally
        {
            _dataVersion.Transaction = null;
        }
    }

    public Task<IReadOnlyList<StoredChange>> ReadChangesAsync(string topic, long after, long upTo, CancellationToken cancellationToken)
    {
        try
        {
            return Task.FromResult<IReadOnlyList<StoredChange>>(ReadHistory(null, topic, after, upTo, Math.Max(0, upTo - after)));
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite could not read history ({ex.SqliteErrorCode}): {ex.Message}", ex);
        }
    }

    public Task<IReadOnlyDictionary<string, long>> ReadCommittedSeqsAsync(CancellationToken cancellationToken)
    {
        try
        {
            var seqs = new Dictionary<string, long>(StringComparer.Ordinal);
            using var command = Prepare("SELECT topic, seq FROM topics");
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                seqs[reader.GetString(0)] = reader.GetInt64(1);
            }

            return Task.FromResult<IReadOnlyDictionary<string, long>>(seqs);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite could not read topic seqs ({ex.SqliteErrorCode}): {ex.Message}", ex);
        }
    }

    private List<NewChange> ReadExternalChanges(SqliteTransaction transaction, Func<string, bool> isTopic)
    {
        var changes = new List<NewChange>();
        var upserted = new HashSet<(string, string)>();
        var now = _timeProvider.GetTimestamp();
        using (var command = Prepare("SELECT topic, id, data FROM entities WHERE seq IS NULL"))
        {
            command.Transaction = transaction;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var topic = reader.GetString(0);
                var id = reader.GetString(1);
                var data = reader.GetFieldValue<byte[]>(2);
                if (!isTopic(topic) || !EntityRules.IsJsonObject(data))
                {
                    Log.ExternalRowIgnored(_logger, topic, id);
                    continue;
                }

                upserted.Add((topic, id));
                changes.Add(new NewChange(topic, id, data, now));
            }
        }

        using (var command = Prepare("SELECT DISTINCT topic, id FROM external_deletes"))
        {
            command.Transaction = transaction;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var topic = reader.GetString(0);
                var id = reader.GetString(1);
                // Deleted and written again before this poll: the write wins.
                if (isTopic(topic) && !upserted.Contains((topic, id)))
                {
                    changes.Add(new NewChange(topic, id, null, now));
                }
            }
        }

        return changes;
    }

    public ValueTask DisposeAsync()
    {
        foreach (var command in new[] { _upsert, _delete, _clearTombstone, _appendHistory, _advanceTopicSeq, _trimHistory, _dataVersion })
        {
            command.Dispose();
        }

        _connection.Dispose();
        return ValueTask.CompletedTask;
    }

    private Dictionary<string, long> ReadTopicSeqs(SqliteTransaction transaction, string[] topics)
    {
        var seqs = new Dictionary<string, long>(StringComparer.Ordinal);
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT seq FROM topics WHERE topic = $topic";
        var parameter = command.Parameters.Add("$topic", SqliteType.Text);
        foreach (var topic in topics)
        {
            parameter.Value = topic;
            seqs[topic] = command.ExecuteScalar() is long seq ? seq : 0;
        }

        return seqs;
    }

    private IReadOnlyList<StoredChange> WriteBatch(SqliteTransaction transaction, IReadOnlyList<NewChange> batch)
    {
        var committed = new StoredChange[batch.Count];
        if (batch.Count == 0)
        {
            return committed;
        }

        // Each topic's seq moves once per batch, by its count of changes; the batch's changes of
        // a topic then take the seqs after the old value, in batch order.
        var next = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var change in batch)
        {
            next[change.Topic] = next.GetValueOrDefault(change.Topic) + 1;
        }

        foreach (var topic in next.Keys.Order(StringComparer.Ordinal).ToArray())
        {
            var count = next[topic];
            _advanceTopicSeq.Transaction = transaction;
            _advanceTopicSeq.Parameters[0].Value = topic;
            _advanceTopicSeq.Parameters[1].Value = count;
            var last = (long)_advanceTopicSeq.ExecuteScalar()!;
            next[topic] = last - count + 1;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            var change = batch[i];
            var seq = next[change.Topic]++;
            committed[i] = new StoredChange(change.Topic, seq, change.Id, change.Data, change.IngestTimestamp);
            WriteChange(transaction, committed[i]);
        }

        // After the writes: a batch longer than the history keeps only its newest changes.
        foreach (var (topic, following) in next)
        {
            Run(_trimHistory, transaction, topic, following - 1 - _historySize);
        }

        return committed;
    }

    private void WriteChange(SqliteTransaction transaction, StoredChange change)
    {
        var topic = change.Topic;
        if (change.Data is null)
        {
            Run(_delete, transaction, topic, change.Id);
        }
        else
        {
            Run(_upsert, transaction, topic, change.Id, change.Data, change.Seq);
        }

        // A tombstone left by another program's earlier delete of this id is settled by this
        // newer change, whichever it is; left behind, the poll would replay the old delete later.
        Run(_clearTombstone, transaction, topic, change.Id);

        Run(_appendHistory, transaction, topic, change.Seq, change.Id, change.Data is null ? "delete" : "upsert", (object?)change.Data ?? DBNull.Value);
    }

    private static void Run(SqliteCommand command, SqliteTransaction transaction, params object[] values)
    {
        command.Transaction = transaction;
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }

        command.ExecuteNonQuery();
    }

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Row {Topic}/{Id} written by another program is ignored: unknown topic or data that is not a JSON object")]
        public static partial void ExternalRowIgnored(ILogger logger, string topic, string id);
    }
}
