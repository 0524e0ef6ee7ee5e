using Microsoft.Data.Sqlite;

namespace TopicBroker.Storage;

// Sites and upstream replication (protocol.md "Sites and upstream replication").
internal sealed partial class SqliteStateStore
{
    /// <summary>The sites with a stored topic (a site topic is named site/topic), at start-up.</summary>
    public Task<IReadOnlyList<string>> LoadSiteNamesAsync(CancellationToken cancellationToken)
    {
        using var command = Prepare("SELECT substr(topic, 1, instr(topic, '/') - 1) AS site FROM topics WHERE instr(topic, '/') > 1 GROUP BY site ORDER BY min(rowid)");
        using var reader = command.ExecuteReader();
        var sites = new List<string>();
        while (reader.Read())
        {
            sites.Add(reader.GetString(0));
        }

        return Task.FromResult<IReadOnlyList<string>>(sites);
    }

    public Task<bool> RegisterSiteAsync(string site, IReadOnlyList<string> topics, int maxSites, CancellationToken cancellationToken)
    {
        try
        {
            using var transaction = _connection.BeginTransaction();
            using (var count = Prepare(
                "SELECT count(DISTINCT substr(topic, 1, instr(topic, '/') - 1)), coalesce(sum(substr(topic, 1, length($prefix)) = $prefix), 0) FROM topics WHERE instr(topic, '/') > 1",
                "$prefix"))
            {
                count.Transaction = transaction;
                count.Parameters[0].Value = site + "/";
                using var reader = count.ExecuteReader();
                reader.Read();
                if (reader.GetInt64(1) > 0)
                {
                    return Task.FromResult(true);
                }

                if (reader.GetInt64(0) >= maxSites)
                {
                    return Task.FromResult(false);
                }
            }

            using (var insert = Prepare("INSERT INTO topics (topic, seq) VALUES ($topic, 0) ON CONFLICT (topic) DO NOTHING", "$topic"))
            {
                foreach (var topic in topics)
                {
                    Run(insert, transaction, site + "/" + topic);
                }
            }

            transaction.Commit();
            return Task.FromResult(true);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite could not store site {site} ({ex.SqliteErrorCode}): {ex.Message}", ex);
        }
    }

    public Task ReplaceTopicAsync(string topic, long seq, IReadOnlyDictionary<string, byte[]> entities, CancellationToken cancellationToken)
    {
        try
        {
            using var transaction = _connection.BeginTransaction();
            foreach (var sql in new[]
                     {
                         "DELETE FROM entities WHERE topic = $topic",
                         "DELETE FROM updates WHERE topic = $topic",
                         // The delete trigger left a tombstone per row; these are the broker's own deletes.
                         "DELETE FROM external_deletes WHERE topic = $topic",
                     })
            {
                using var command = Prepare(sql, "$topic");
                command.Transaction = transaction;
                command.Parameters[0].Value = topic;
                command.ExecuteNonQuery();
            }

            foreach (var (id, data) in entities)
            {
                Run(_upsert, transaction, topic, id, data, seq);
            }

            using (var setSeq = Prepare("INSERT INTO topics (topic, seq) VALUES ($topic, $seq) ON CONFLICT (topic) DO UPDATE SET seq = excluded.seq", "$topic", "$seq"))
            {
                Run(setSeq, transaction, topic, seq);
            }

            transaction.Commit();
            return Task.CompletedTask;
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite could not replace topic {topic} ({ex.SqliteErrorCode}): {ex.Message}", ex);
        }
    }

    public Task<IReadOnlyDictionary<string, long>> LoadUpstreamPositionsAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var command = Prepare("SELECT topic, acknowledged FROM upstream_positions");
            using var reader = command.ExecuteReader();
            var positions = new Dictionary<string, long>(StringComparer.Ordinal);
            while (reader.Read())
            {
                positions[reader.GetString(0)] = reader.GetInt64(1);
            }

            return Task.FromResult<IReadOnlyDictionary<string, long>>(positions);
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite could not read the upstream positions ({ex.SqliteErrorCode}): {ex.Message}", ex);
        }
    }

    public Task SaveUpstreamPositionsAsync(IReadOnlyDictionary<string, long> positions, CancellationToken cancellationToken)
    {
        try
        {
            using var transaction = _connection.BeginTransaction();
            using var command = Prepare(
                "INSERT INTO upstream_positions (topic, acknowledged) VALUES ($topic, $seq) ON CONFLICT (topic) DO UPDATE SET acknowledged = excluded.acknowledged",
                "$topic", "$seq");
            foreach (var (topic, seq) in positions)
            {
                Run(command, transaction, topic, seq);
            }

            transaction.Commit();
            return Task.CompletedTask;
        }
        catch (SqliteException ex)
        {
            throw new StoreUnavailableException($"SQLite could not save the upstream positions ({ex.SqliteErrorCode}): {ex.Message}", ex);
        }
    }
}
