namespace TopicBroker.Storage;

/// <summary>
/// Applied at most once, decided inside the commit transaction (protocol.md "Sites and upstream
/// replication"): with the site topics' rows locked and their committed seqs read, a replicated
/// change is written only when its seq is the next one; a seq already held is a resend, and one
/// that skips a seq is a gap. Deciding here, not in a node's memory, keeps it true across cluster
/// nodes whose applied seqs lag the store.
/// </summary>
internal static class ReplicatedSeqs
{
    /// <summary>The replicated topics of <paramref name="batch"/>, in sorted order (the order their rows are locked).</summary>
    public static string[] TopicsOf(IReadOnlyList<NewChange> batch) =>
        [.. batch.Where(change => change.ReplicatedSeq != 0).Select(change => change.Topic).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>Each change's outcome given the committed seqs <paramref name="held"/> of the replicated topics.</summary>
    public static ReplicatedWrite[] Settle(IReadOnlyList<NewChange> batch, IReadOnlyDictionary<string, long> held)
    {
        var outcomes = new ReplicatedWrite[batch.Count];
        var last = new Dictionary<string, long>(held, StringComparer.Ordinal);
        for (var i = 0; i < batch.Count; i++)
        {
            var change = batch[i];
            if (change.ReplicatedSeq == 0)
            {
                continue;
            }

            var seq = last.GetValueOrDefault(change.Topic);
            if (change.ReplicatedSeq <= seq)
            {
                outcomes[i] = ReplicatedWrite.AlreadyCommitted;
            }
            else if (change.ReplicatedSeq == seq + 1)
            {
                last[change.Topic] = change.ReplicatedSeq;
            }
            else
            {
                outcomes[i] = ReplicatedWrite.Gap;
            }
        }

        return outcomes;
    }

    /// <summary>The changes to write, in batch order.</summary>
    public static List<NewChange> Written(IReadOnlyList<NewChange> batch, ReplicatedWrite[] outcomes) =>
        [.. batch.Where((_, i) => outcomes[i] == ReplicatedWrite.Written)];

    /// <summary>The batch's answer in batch order: the written changes with their seqs, the others with their own seq and outcome.</summary>
    public static StoredChange[] Merge(IReadOnlyList<NewChange> batch, ReplicatedWrite[] outcomes, IReadOnlyList<StoredChange> written)
    {
        var result = new StoredChange[batch.Count];
        var next = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var change = batch[i];
            result[i] = outcomes[i] == ReplicatedWrite.Written
                ? written[next++]
                : new StoredChange(change.Topic, change.ReplicatedSeq, change.Id, change.Data, change.IngestTimestamp, outcomes[i]);
        }

        return result;
    }
}
