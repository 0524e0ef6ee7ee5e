using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace TopicBroker.Bench.Chaos;

/// <summary>
/// Reads the broker's SQLite file while the broker is stopped (docs/operations.md "SQLite schema
/// and external writers") and checks that every acknowledged change is there: the topic's seq is
/// at least every acked and every delivered seq, each acked change still inside the history
/// (<c>Broker:HistorySize</c>) is in <c>updates</c> as the same change, and every never-deleted
/// id's row is at least as new as its last acked upsert.
/// </summary>
internal static class StoreCheck
{
    /// <summary>Checks every topic; returns how many acked changes were compared.</summary>
    public static long Run(string databasePath, IReadOnlyList<TopicLedger> ledgers, int historySize, ChaosViolations violations, string when)
    {
        // No pooling: the file handle must be closed before the broker starts again.
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        connection.Open();
        long compared = 0;
        foreach (var ledger in ledgers)
        {
            var acked = ledger.AckedSnapshot();
            var lastUpserts = ledger.LastUpserts();
            var maxDelivered = ledger.MaxDeliveredSeq;
            var topicSeq = ScalarLong(connection, "SELECT seq FROM topics WHERE topic = $topic", ledger.Topic) ?? 0;
            var maxAcked = acked.Count == 0 ? 0 : acked.Max(a => a.Seq);
            if (topicSeq < maxAcked)
            {
                violations.Add(ChaosViolations.Durable, $"{when}: {ledger.Topic} store seq {topicSeq} is behind acked seq {maxAcked}");
            }

            if (topicSeq < maxDelivered)
            {
                violations.Add(ChaosViolations.Durable, $"{when}: {ledger.Topic} store seq {topicSeq} is behind seq {maxDelivered}, which a subscriber received");
            }

            var low = topicSeq - historySize;
            var history = new Dictionary<long, (string Id, string Op, string? Data)>();
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT seq, id, op, data FROM updates WHERE topic = $topic AND seq > $low";
                command.Parameters.AddWithValue("$topic", ledger.Topic);
                command.Parameters.AddWithValue("$low", low);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    history[reader.GetInt64(0)] = (reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3));
                }
            }

            foreach (var change in acked)
            {
                if (change.Seq <= low)
                {
                    continue;
                }

                compared++;
                if (!history.TryGetValue(change.Seq, out var row))
                {
                    violations.Add(ChaosViolations.Durable, $"{when}: {ledger.Topic} acked seq {change.Seq} ({ChaosPublishers.Describe(change.Id, change.N, change.Delete)}) is not in the store's history");
                }
                else if (row.Id != change.Id || (row.Op == "delete") != change.Delete || (!change.Delete && N(row.Data) != change.N))
                {
                    violations.Add(ChaosViolations.Durable, $"{when}: {ledger.Topic} acked seq {change.Seq} was {ChaosPublishers.Describe(change.Id, change.N, change.Delete)}; the store's history has {row.Op} {row.Id} {row.Data}");
                }
            }

            var entities = new Dictionary<string, (string Data, long? Seq)>(StringComparer.Ordinal);
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT id, data, seq FROM entities WHERE topic = $topic";
                command.Parameters.AddWithValue("$topic", ledger.Topic);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    entities[reader.GetString(0)] = (reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2));
                }
            }

            foreach (var (id, upsert) in lastUpserts)
            {
                compared++;
                if (!entities.TryGetValue(id, out var entity))
                {
                    violations.Add(ChaosViolations.Durable, $"{when}: {ledger.Topic} {id} (acked n={upsert.N} at seq {upsert.Seq}) is not in the store's entities");
                }
                else if (entity.Seq < upsert.Seq || N(entity.Data) < upsert.N)
                {
                    violations.Add(ChaosViolations.Durable, $"{when}: {ledger.Topic} {id} acked n={upsert.N} at seq {upsert.Seq}; the store has seq {entity.Seq} {entity.Data}");
                }
            }
        }

        return compared;
    }

    /// <summary>The store's seq of each topic, read after the broker has stopped.</summary>
    public static long TopicSeq(string databasePath, string topic)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        connection.Open();
        return ScalarLong(connection, "SELECT seq FROM topics WHERE topic = $topic", topic) ?? 0;
    }

    private static long? ScalarLong(SqliteConnection connection, string sql, string topic)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$topic", topic);
        return command.ExecuteScalar() is long value ? value : null;
    }

    private static long N(string? data)
    {
        if (data is null)
        {
            return -1;
        }

        using var document = JsonDocument.Parse(data);
        return document.RootElement.TryGetProperty("n", out var n) ? n.GetInt64() : -1;
    }
}
