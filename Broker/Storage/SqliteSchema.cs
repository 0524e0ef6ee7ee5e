using Microsoft.Data.Sqlite;

namespace TopicBroker.Storage;

/// <summary>
/// Creates and migrates the schema documented in docs/operations.md "SQLite schema and external writers". Each migration moves
/// <c>PRAGMA user_version</c> one step; a database newer than this code is refused.
/// </summary>
internal static class SqliteSchema
{
    public const int CurrentVersion = 2;

    private static readonly string[] Migrations =
    [
        // 0 -> 1
        """
        CREATE TABLE IF NOT EXISTS topics (
            topic TEXT PRIMARY KEY,
            seq   INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS entities (
            topic TEXT NOT NULL,
            id    TEXT NOT NULL,
            data  TEXT NOT NULL,
            seq   INTEGER,
            PRIMARY KEY (topic, id)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS entities_unseen ON entities (topic) WHERE seq IS NULL;
        CREATE TABLE IF NOT EXISTS updates (
            topic TEXT NOT NULL,
            seq   INTEGER NOT NULL,
            id    TEXT NOT NULL,
            op    TEXT NOT NULL,
            data  TEXT,
            PRIMARY KEY (topic, seq)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS external_deletes (
            topic TEXT NOT NULL,
            id    TEXT NOT NULL
        );
        -- The broker always writes a new seq with new data; data changing under an unchanged seq
        -- is another program's write, so it is marked unseen for the poll.
        CREATE TRIGGER IF NOT EXISTS entities_external_update AFTER UPDATE OF data ON entities
            WHEN NEW.seq IS OLD.seq AND OLD.seq IS NOT NULL
        BEGIN
            UPDATE entities SET seq = NULL WHERE topic = NEW.topic AND id = NEW.id;
        END;
        -- Every delete leaves a tombstone; the broker removes the ones for its own deletes in the
        -- same transaction, so those left are other programs' deletes.
        CREATE TRIGGER IF NOT EXISTS entities_delete AFTER DELETE ON entities
        BEGIN
            INSERT INTO external_deletes (topic, id) VALUES (OLD.topic, OLD.id);
        END;
        """,
        // 1 -> 2: a restaurant broker's upstream position per topic (protocol.md "Sites and upstream replication").
        """
        CREATE TABLE IF NOT EXISTS upstream_positions (
            topic        TEXT PRIMARY KEY,
            acknowledged INTEGER NOT NULL
        );
        """,
    ];

    public static void Migrate(SqliteConnection connection)
    {
        var version = Convert.ToInt32(Scalar(connection, "PRAGMA user_version"), System.Globalization.CultureInfo.InvariantCulture);
        if (version > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The database has schema version {version}, newer than this broker's {CurrentVersion}. Use a newer broker or another Broker:Database.");
        }

        for (; version < CurrentVersion; version++)
        {
            using var transaction = connection.BeginTransaction();
            using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText = Migrations[version] + $"\nPRAGMA user_version = {version + 1};";
                command.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    public static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
