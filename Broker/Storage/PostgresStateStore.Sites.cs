using Npgsql;

namespace TopicBroker.Storage;

// Sites and upstream replication (protocol.md "Sites and upstream replication").
internal sealed partial class PostgresStateStore
{
    // Any constant (apart from PostgresSchema's): the key that serialises site registrations between nodes.
    private const long SiteRegistrationLock = 0x546F706963427232;

    public async Task<bool> RegisterSiteAsync(string site, IReadOnlyList<string> topics, int maxSites, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            // Nodes registering sites take turns, so two new sites never both take the last place.
            await using (var lockCommand = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({SiteRegistrationLock})", connection, transaction))
            {
                await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var count = new NpgsqlCommand("""
                SELECT count(DISTINCT split_part(topic, '/', 1)), bool_or(starts_with(topic, @prefix))
                FROM topics WHERE position('/' in topic) > 1
                """, connection, transaction))
            {
                count.Parameters.AddWithValue("prefix", site + "/");
                await using var reader = await count.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (!reader.IsDBNull(1) && reader.GetBoolean(1))
                {
                    return true;
                }

                if (reader.GetInt64(0) >= maxSites)
                {
                    return false;
                }
            }

            await using (var insert = new NpgsqlCommand(
                "INSERT INTO topics (topic, seq) SELECT topic, 0 FROM unnest(@topics) AS t(topic) ON CONFLICT (topic) DO NOTHING", connection, transaction))
            {
                insert.Parameters.AddWithValue("topics", topics.Select(topic => site + "/" + topic).ToArray());
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not store site {site}: {ex.Message}", ex);
        }
    }

    public async Task ReplaceTopicAsync(string topic, long seq, IReadOnlyDictionary<string, byte[]> entities, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var batch = new NpgsqlBatch(connection, transaction))
            {
                // The topic row first: it is the lock every writer of the topic takes.
                batch.BatchCommands.Add(Command("INSERT INTO topics (topic, seq) VALUES (@topic, @seq) ON CONFLICT (topic) DO UPDATE SET seq = excluded.seq", topic, seq));
                batch.BatchCommands.Add(Command("DELETE FROM entities WHERE topic = @topic", topic));
                batch.BatchCommands.Add(Command("DELETE FROM updates WHERE topic = @topic", topic));
                // The delete trigger left a tombstone per row; these are the broker's own deletes.
                batch.BatchCommands.Add(Command("DELETE FROM external_deletes WHERE topic = @topic", topic));
                foreach (var (id, data) in entities)
                {
                    var insert = Command("INSERT INTO entities (topic, id, data, seq) VALUES (@topic, @id, @data, @seq)", topic, seq);
                    insert.Parameters.AddWithValue("id", id);
                    insert.Parameters.AddWithValue("data", System.Text.Encoding.UTF8.GetString(data));
                    batch.BatchCommands.Add(insert);
                }

                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not replace topic {topic}: {ex.Message}", ex);
        }
    }

    public async Task<IReadOnlyDictionary<string, long>> LoadUpstreamPositionsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await ReadTopicNumbersAsync("SELECT topic, acknowledged FROM upstream_positions", cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not read the upstream positions: {ex.Message}", ex);
        }
    }

    public async Task SaveUpstreamPositionsAsync(IReadOnlyDictionary<string, long> positions, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
            await using var batch = _dataSource.CreateBatch();
            foreach (var (topic, seq) in positions)
            {
                batch.BatchCommands.Add(Command(
                    "INSERT INTO upstream_positions (topic, acknowledged) VALUES (@topic, @seq) ON CONFLICT (topic) DO UPDATE SET acknowledged = excluded.acknowledged", topic, seq));
            }

            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            throw new StoreUnavailableException($"PostgreSQL could not save the upstream positions: {ex.Message}", ex);
        }
    }

    private static NpgsqlBatchCommand Command(string sql, string topic, long? seq = null)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddWithValue("topic", topic);
        if (seq is { } value)
        {
            command.Parameters.AddWithValue("seq", value);
        }

        return command;
    }
}
