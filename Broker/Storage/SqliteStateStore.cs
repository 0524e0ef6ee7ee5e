using System.Diagnostics;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Topics;

namespace TopicBroker.Storage;

/// <summary>
/// The durable state: one SQLite file in WAL mode (schema in docs/operations.md "SQLite schema and external writers"). Used by the
/// ingest pipeline's single thread only, so it holds one connection and reuses prepared commands.
/// </summary>
internal sealed partial class SqliteStateStore : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly int _historySize;
    private readonly ILogger<SqliteStateStore> _logger;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _delete;
    private readonly SqliteCommand _clearTombstone;
    private readonly SqliteCommand _appendHistory;
    private readonly SqliteCommand _setTopicSeq;
    private readonly SqliteCommand _trimHistory;
    private readonly SqliteCommand _dataVersion;
    private long _lastDataVersion;

    /// <summary>No data_version seen yet: the next poll reads the external rows whatever the version.</summary>
    private const long UnknownDataVersion = long.MinValue;

    public SqliteStateStore(IOptions<BrokerOptions> options, ILogger<SqliteStateStore> logger)
    {
        _logger = logger;
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
        _setTopicSeq = Prepare(
            "INSERT INTO topics (topic, seq) VALUES ($topic, $seq) ON CONFLICT (topic) DO UPDATE SET seq = excluded.seq",
            "$topic", "$seq");
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

    /// <summary>Reads a topic's seq, entities and newest history at start-up.</summary>
    public StoredTopic Load(TopicState topic)
    {
        long seq;
        using (var command = Prepare("SELECT seq FROM topics WHERE topic = $topic", "$topic"))
        {
            command.Parameters[0].Value = topic.Name;
            seq = command.ExecuteScalar() is long value ? value : 0;
        }

        var entities = new List<KeyValuePair<string, byte[]>>();
        using (var command = Prepare("SELECT id, data FROM entities WHERE topic = $topic AND seq IS NOT NULL", "$topic"))
        {
            command.Parameters[0].Value = topic.Name;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                entities.Add(new(reader.GetString(0), reader.GetFieldValue<byte[]>(1)));
            }
        }

        var history = new List<StoredChange>();
        using (var command = Prepare(
            "SELECT seq, id, op, data FROM updates WHERE topic = $topic ORDER BY seq DESC LIMIT $limit", "$topic", "$limit"))
        {
            command.Parameters[0].Value = topic.Name;
            command.Parameters[1].Value = _historySize;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var data = reader.GetString(2) == "delete" || reader.IsDBNull(3) ? null : reader.GetFieldValue<byte[]>(3);
                history.Add(new StoredChange(topic, reader.GetInt64(0), reader.GetString(1), data));
            }
        }

        history.Reverse();
        return new StoredTopic(seq, entities, history);
    }

    /// <summary>
    /// Commits a batch in one transaction: entities, history, per-topic seq, and history trimming.
    /// Throws <see cref="StoreUnavailableException"/> (having rolled back) when SQLite cannot write.
    /// </summary>
    public void Commit(IReadOnlyList<StoredChange> batch)
    {
        try
        {
            using var transaction = _connection.BeginTransaction();
            WriteBatch(transaction, batch);
            transaction.Commit();
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite could not commit ({ex.SqliteErrorCode}): {ex.Message}", ex);
        }

        // Our own commits do not move our connection's data_version; only other programs' do.
    }

    /// <summary>
    /// Picks up what other programs wrote since the last call and commits it with new seqs, in one
    /// write transaction, so a program writing meanwhile waits for it and nothing is read stale or
    /// overwritten. Costs one PRAGMA when nobody else has written (SQLite's data_version moves only
    /// for other connections' commits). Returns the committed changes, in seq order per topic.
    /// </summary>
    public IReadOnlyList<StoredChange> CommitExternalChanges(Func<string, TopicState?> resolveTopic)
    {
        try
        {
            if ((long)_dataVersion.ExecuteScalar()! == _lastDataVersion)
            {
                return [];
            }

            using var transaction = _connection.BeginTransaction();
            _dataVersion.Transaction = transaction;
            var version = (long)_dataVersion.ExecuteScalar()!;
            var changes = ReadExternalChanges(transaction, resolveTopic);
            WriteBatch(transaction, changes);
            transaction.Commit();

            // Only now: a failed attempt leaves the version as it was, so the next poll retries.
            _lastDataVersion = version;
            return changes;
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

    private List<StoredChange> ReadExternalChanges(SqliteTransaction transaction, Func<string, TopicState?> resolveTopic)
    {
        var changes = new List<StoredChange>();
        var upserted = new HashSet<(string, string)>();
        var now = Stopwatch.GetTimestamp();
        using (var command = Prepare("SELECT topic, id, data FROM entities WHERE seq IS NULL"))
        {
            command.Transaction = transaction;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var topicName = reader.GetString(0);
                var id = reader.GetString(1);
                var data = reader.GetFieldValue<byte[]>(2);
                if (resolveTopic(topicName) is not { } topic || !IsJsonObject(data))
                {
                    Log.ExternalRowIgnored(_logger, topicName, id);
                    continue;
                }

                upserted.Add((topicName, id));
                changes.Add(new StoredChange(topic, ++topic.AssignedSeq, id, data, now));
            }
        }

        using (var command = Prepare("SELECT DISTINCT topic, id FROM external_deletes"))
        {
            command.Transaction = transaction;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var topicName = reader.GetString(0);
                var id = reader.GetString(1);
                // Deleted and written again before this poll: the write wins.
                if (resolveTopic(topicName) is { } topic && !upserted.Contains((topicName, id)))
                {
                    changes.Add(new StoredChange(topic, ++topic.AssignedSeq, id, null, now));
                }
            }
        }

        return changes;
    }

    public void Dispose()
    {
        foreach (var command in new[] { _upsert, _delete, _clearTombstone, _appendHistory, _setTopicSeq, _trimHistory, _dataVersion })
        {
            command.Dispose();
        }

        _connection.Dispose();
    }

    private void WriteBatch(SqliteTransaction transaction, IReadOnlyList<StoredChange> batch)
    {
        foreach (var change in batch)
        {
            WriteChange(transaction, change);
        }

        // Each topic's newest seq is that of its last change in the batch (seq order).
        for (var i = batch.Count - 1; i >= 0; i--)
        {
            var change = batch[i];
            if (IsLastOfTopic(batch, i))
            {
                Run(_setTopicSeq, transaction, change.Topic.Name, change.Seq);
                Run(_trimHistory, transaction, change.Topic.Name, change.Seq - _historySize);
            }
        }
    }

    private void WriteChange(SqliteTransaction transaction, StoredChange change)
    {
        var topic = change.Topic.Name;
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

    private static bool IsLastOfTopic(IReadOnlyList<StoredChange> batch, int index)
    {
        for (var j = index + 1; j < batch.Count; j++)
        {
            if (ReferenceEquals(batch[j].Topic, batch[index].Topic))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool IsJsonObject(ReadOnlySpan<byte> data)
    {
        if (!Utf8.IsValid(data))
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            reader.Skip();
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
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
