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
}
