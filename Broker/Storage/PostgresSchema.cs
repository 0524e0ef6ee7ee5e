using Npgsql;

namespace TopicBroker.Storage;

/// <summary>
/// The SQLite schema's tables and meaning on PostgreSQL (docs/operations.md "Cluster mode"), so other
/// programs write to PostgreSQL as they write to SQLite: a row with seq NULL is theirs, a delete
/// leaves a tombstone in <c>external_deletes</c>. Nodes starting together migrate under one
/// advisory lock.
/// </summary>
internal static class PostgresSchema
{
    public const int CurrentVersion = 2;

    // Any constant: the key of the advisory lock that serialises migrations between nodes.
    private const long MigrationLock = 0x546F706963427231;

    private static readonly string[] Migrations =
    [
        // 0 -> 1
        """
        CREATE TABLE IF NOT EXISTS topics (
            topic TEXT PRIMARY KEY,
            seq   BIGINT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS entities (
            topic TEXT NOT NULL,
            id    TEXT NOT NULL,
            data  TEXT NOT NULL,
            seq   BIGINT,
            PRIMARY KEY (topic, id)
        );
        CREATE INDEX IF NOT EXISTS entities_unseen ON entities (topic) WHERE seq IS NULL;
        CREATE TABLE IF NOT EXISTS updates (
            topic TEXT NOT NULL,
            seq   BIGINT NOT NULL,
            id    TEXT NOT NULL,
            op    TEXT NOT NULL,
            data  TEXT,
            PRIMARY KEY (topic, seq)
        );
        CREATE TABLE IF NOT EXISTS external_deletes (
            topic TEXT NOT NULL,
            id    TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS external_deletes_topic ON external_deletes (topic, id);
        -- The broker always writes a new seq with new data; data changing under an unchanged seq
        -- is another program's write, so it is marked unseen for the poll.
        CREATE OR REPLACE FUNCTION topicbroker_entities_external_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.seq IS NOT DISTINCT FROM OLD.seq AND OLD.seq IS NOT NULL THEN
                NEW.seq := NULL;
            END IF;
            RETURN NEW;
        END $$;
        CREATE OR REPLACE TRIGGER entities_external_update BEFORE UPDATE OF data ON entities
            FOR EACH ROW EXECUTE FUNCTION topicbroker_entities_external_update();
        -- Every delete leaves a tombstone; the broker removes the ones for its own deletes in the
        -- same transaction, so those left are other programs' deletes.
        CREATE OR REPLACE FUNCTION topicbroker_entities_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO external_deletes (topic, id) VALUES (OLD.topic, OLD.id);
            RETURN OLD;
        END $$;
        CREATE OR REPLACE TRIGGER entities_delete AFTER DELETE ON entities
            FOR EACH ROW EXECUTE FUNCTION topicbroker_entities_delete();
        """,
        // 1 -> 2: a restaurant broker's upstream position per topic (protocol.md "Sites and upstream replication").
        """
        CREATE TABLE IF NOT EXISTS upstream_positions (
            topic        TEXT PRIMARY KEY,
            acknowledged BIGINT NOT NULL
        );
        """,
    ];

    public static async Task MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS topicbroker_schema (version INTEGER NOT NULL)", cancellationToken).ConfigureAwait(false);

        int version;
        await using (var command = new NpgsqlCommand("SELECT max(version) FROM topicbroker_schema", connection))
        {
            version = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is int value ? value : 0;
        }

        if (version > CurrentVersion)
        {
            throw new InvalidOperationException(
                $"The database has schema version {version}, newer than this broker's {CurrentVersion}. Use a newer broker or another Broker:Storage:ConnectionString.");
        }

        for (; version < CurrentVersion; version++)
        {
            await ExecuteAsync(connection, Migrations[version], cancellationToken).ConfigureAwait(false);
        }

        await ExecuteAsync(connection, $"DELETE FROM topicbroker_schema; INSERT INTO topicbroker_schema (version) VALUES ({CurrentVersion})", cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
