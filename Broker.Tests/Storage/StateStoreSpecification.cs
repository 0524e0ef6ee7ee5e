using System.Text;
using TopicBroker.Storage;

namespace TopicBroker.Tests.Storage;

/// <summary>
/// What every <see cref="IStateStore"/> must do, whichever database holds it (SignalR's
/// HubLifetimeManagerTestsBase pattern): one subclass per store supplies a fresh database per
/// test, a way to open stores on it (a restart, or a second node), SQL as another program would
/// run it, and a way to make a commit fail.
/// </summary>
public abstract class StateStoreSpecification
{
    private readonly List<IStateStore> _opened = [];

    /// <summary>A fresh, empty database for the next test.</summary>
    protected abstract Task CreateDatabaseAsync();

    protected abstract Task DropDatabaseAsync();

    /// <summary>A store on the test's database, as a broker (re)starting on it opens it.</summary>
    private protected abstract Task<IStateStore> CreateStoreAsync(int historySize);

    /// <summary>Runs SQL on the test's database as another program would, on its own connection.</summary>
    protected abstract Task ExecuteAsync(string sql);

    /// <summary>From now on, any commit that writes a change with this id fails inside its transaction.</summary>
    protected abstract Task FailCommitsOfIdAsync(string id);

    [SetUp]
    public Task SetUpDatabaseAsync() => CreateDatabaseAsync();

    [TearDown]
    public async Task TearDownDatabaseAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }

        _opened.Clear();
        await DropDatabaseAsync();
    }

    private async Task<IStateStore> OpenAsync(int historySize = 100)
    {
        var store = await CreateStoreAsync(historySize);
        _opened.Add(store);
        return store;
    }

    private static NewChange Upsert(string topic, string id, string json) => new(topic, id, Encoding.UTF8.GetBytes(json));

    private static NewChange Delete(string topic, string id) => new(topic, id, null);

    private static string Text(byte[]? data) => data is null ? "<delete>" : Encoding.UTF8.GetString(data);

    [Test]
    public async Task Commit_GivesEachTopicItsNextSeqs_InBatchOrder()
    {
        var store = await OpenAsync();

        var first = await store.CommitAsync([Upsert("orders", "o1", "{}"), Upsert("robots", "r1", "{}"), Upsert("orders", "o2", "{}")], default);
        var second = await store.CommitAsync([Upsert("robots", "r2", "{}"), Upsert("orders", "o3", "{}")], default);

        Assert.That(first.Select(c => (c.Topic, c.Id, c.Seq)), Is.EqualTo(new[] { ("orders", "o1", 1L), ("robots", "r1", 1L), ("orders", "o2", 2L) }));
        Assert.That(second.Select(c => (c.Topic, c.Id, c.Seq)), Is.EqualTo(new[] { ("robots", "r2", 2L), ("orders", "o3", 3L) }));
    }

    private static NewChange Replicated(string topic, long seq, string id) => new(topic, id, Encoding.UTF8.GetBytes($$"""{"n":{{seq}}}"""), ReplicatedSeq: seq);

    [Test]
    public async Task Commit_ReplicatedChange_IsWrittenOnlyAsItsTopicsNextSeq_InTheTransaction()
    {
        var store = await OpenAsync();
        var first = await store.CommitAsync([Replicated("site-1/orders", 1, "a"), Replicated("site-1/orders", 2, "b"), Upsert("orders", "o1", "{}")], default);

        // A second writer that believes the topic is at 0 (a node whose applied seq lags), a resend within
        // one batch, and a change that skips a seq: the store, not a node's memory, tells them apart.
        var second = await store.CommitAsync(
            [Replicated("site-1/orders", 1, "a"), Replicated("site-1/orders", 3, "c"), Replicated("site-1/orders", 3, "c"), Replicated("site-1/orders", 5, "e")], default);

        Assert.That(first.Select(c => (c.Seq, c.Outcome)), Is.EqualTo(new[] { (1L, ReplicatedWrite.Written), (2L, ReplicatedWrite.Written), (1L, ReplicatedWrite.Written) }));
        Assert.That(second.Select(c => (c.Seq, c.Outcome)), Is.EqualTo(new[]
        {
            (1L, ReplicatedWrite.AlreadyCommitted), (3L, ReplicatedWrite.Written), (3L, ReplicatedWrite.AlreadyCommitted), (5L, ReplicatedWrite.Gap),
        }));
        var loaded = (await store.LoadAsync(["site-1/orders"], default))[0];
        Assert.That(loaded.Seq, Is.EqualTo(3), "nothing past the gap, nothing twice");
        Assert.That(loaded.History.Select(c => (c.Seq, c.Id)), Is.EqualTo(new[] { (1L, "a"), (2L, "b"), (3L, "c") }));
    }

    [Test]
    public async Task RegisterSite_CountsStoredSites_AgainstMaxSites()
    {
        var store = await OpenAsync();

        Assert.That(await store.RegisterSiteAsync("site-1", ["orders", "robots"], maxSites: 2, default), Is.True);
        Assert.That(await store.RegisterSiteAsync("site-1", ["orders", "robots"], maxSites: 1, default), Is.True, "a stored site is never refused");
        await store.CommitAsync([Replicated("site-2/orders", 1, "a")], default);
        Assert.That(await store.RegisterSiteAsync("site-3", ["orders", "robots"], maxSites: 2, default), Is.False, "site-1 and site-2 are stored");

        Assert.That(await store.LoadSiteNamesAsync(default), Is.EquivalentTo(new[] { "site-1", "site-2" }));
        var seqs = await store.ReadCommittedSeqsAsync(default);
        Assert.That(seqs.GetValueOrDefault("site-1/robots", -1), Is.Zero, "a registered site's topics are stored at seq 0");
    }

    [Test]
    public async Task Load_AfterReopening_ReturnsSeqEntitiesAndHistory()
    {
        var store = await OpenAsync();
        await store.CommitAsync([Upsert("orders", "o1", """{"n":1}"""), Upsert("orders", "o2", """{"n":2}""")], default);
        await store.CommitAsync([Upsert("orders", "o1", """{"n":3}"""), Delete("orders", "o2")], default);
        await store.DisposeAsync();
        _opened.Remove(store);

        var reopened = await OpenAsync();
        var loaded = await reopened.LoadAsync(["orders", "robots"], default);

        Assert.That(loaded.Select(t => t.Topic), Is.EqualTo(new[] { "orders", "robots" }));
        var orders = loaded[0];
        Assert.That(orders.Seq, Is.EqualTo(4));
        Assert.That(orders.Entities.Select(e => (e.Key, Text(e.Value))), Is.EquivalentTo(new[] { ("o1", """{"n":3}""") }));
        Assert.That(orders.History.Select(c => (c.Seq, c.Id, Text(c.Data))), Is.EqualTo(new[]
        {
            (1L, "o1", """{"n":1}"""), (2L, "o2", """{"n":2}"""), (3L, "o1", """{"n":3}"""), (4L, "o2", "<delete>"),
        }));
        Assert.That(loaded[1].Seq, Is.Zero, "a topic never written");
        Assert.That(loaded[1].Entities, Is.Empty);
        Assert.That(loaded[1].History, Is.Empty);
    }

    [Test]
    public async Task Commit_KeepsOnlyTheNewestHistorySizeChanges()
    {
        var store = await OpenAsync(historySize: 3);
        await store.CommitAsync([.. Enumerable.Range(1, 4).Select(i => Upsert("orders", $"o{i}", "{}"))], default);
        await store.CommitAsync([Upsert("orders", "o5", "{}")], default);

        var loaded = (await store.LoadAsync(["orders"], default))[0];
        var read = await store.ReadChangesAsync("orders", 0, 5, default);

        Assert.That(loaded.History.Select(c => c.Seq), Is.EqualTo(new[] { 3L, 4L, 5L }));
        Assert.That(read.Select(c => c.Seq), Is.EqualTo(new[] { 3L, 4L, 5L }), "trimmed history is gone from the store too");
        Assert.That(loaded.Entities, Has.Count.EqualTo(5), "trimming history keeps every entity");
    }

    [Test]
    public async Task Commits_OfSeveralChanges_TrimAsManyAsTheyPushOut_IncludingExternalOnes()
    {
        var store = await OpenAsync(historySize: 3);
        await store.CommitAsync([.. Enumerable.Range(1, 4).Select(i => Upsert("orders", $"o{i}", "{}"))], default);
        await store.CommitAsync([.. Enumerable.Range(5, 3).Select(i => Upsert("orders", $"o{i}", "{}"))], default);
        Assert.That((await store.ReadChangesAsync("orders", 0, 100, default)).Select(c => c.Seq), Is.EqualTo(new[] { 5L, 6L, 7L }));

        await ExecuteAsync("INSERT INTO entities (topic, id, data, seq) VALUES ('orders', 'x1', '{}', NULL), ('orders', 'x2', '{}', NULL)");
        Assert.That(await store.CommitExternalChangesAsync(_ => true, default), Has.Count.EqualTo(2));
        Assert.That((await store.ReadChangesAsync("orders", 0, 100, default)).Select(c => c.Seq), Is.EqualTo(new[] { 7L, 8L, 9L }));
    }

    [Test]
    public async Task Commit_OverAHistoryRowAnotherProgramPutAtItsNextSeq_ReplacesIt()
    {
        var store = await OpenAsync();
        await store.CommitAsync([Upsert("orders", "o1", "{}")], default);
        await ExecuteAsync("INSERT INTO updates (topic, seq, id, op, data) VALUES ('orders', 2, 'stray', 'upsert', '{}')");

        var committed = await store.CommitAsync([Upsert("orders", "o2", """{"n":2}"""), Upsert("robots", "r1", "{}")], default);

        Assert.That(committed.Select(c => (c.Topic, c.Seq)), Is.EqualTo(new[] { ("orders", 2L), ("robots", 1L) }));
        var history = await store.ReadChangesAsync("orders", 0, 100, default);
        Assert.That(history.Select(c => (c.Seq, c.Id, Text(c.Data))), Is.EqualTo(new[] { (1L, "o1", "{}"), (2L, "o2", """{"n":2}""") }));
        Assert.That((await store.ReadChangesAsync("robots", 0, 100, default)).Select(c => c.Id), Is.EqualTo(new[] { "r1" }), "the rest of the batch is written too");
    }

    [Test]
    public async Task Reopened_WithASmallerHistorySize_KeepsOnlyTheNewestOfIt_OnceItCommits()
    {
        var store = await OpenAsync(historySize: 10);
        await store.CommitAsync([.. Enumerable.Range(1, 8).Select(i => Upsert("orders", $"o{i}", "{}"))], default);
        await store.CommitAsync([Upsert("robots", "r1", "{}")], default);
        await store.DisposeAsync();
        _opened.Remove(store);

        var reopened = await OpenAsync(historySize: 3);
        await reopened.CommitAsync([Upsert("orders", "o9", "{}")], default);

        Assert.That((await reopened.ReadChangesAsync("orders", 0, 100, default)).Select(c => c.Seq), Is.EqualTo(new[] { 7L, 8L, 9L }));
        Assert.That((await reopened.ReadChangesAsync("robots", 0, 100, default)).Select(c => c.Seq), Is.EqualTo(new[] { 1L }), "a topic within the smaller size keeps its history");
    }

    [Test]
    public async Task ReadChanges_ReturnsTheRangeInSeqOrder()
    {
        var store = await OpenAsync();
        await store.CommitAsync([.. Enumerable.Range(1, 6).Select(i => Upsert("orders", $"o{i}", $$"""{"n":{{i}}}"""))], default);

        var read = await store.ReadChangesAsync("orders", 2, 5, default);

        Assert.That(read.Select(c => (c.Seq, c.Id, Text(c.Data))), Is.EqualTo(new[]
        {
            (3L, "o3", """{"n":3}"""), (4L, "o4", """{"n":4}"""), (5L, "o5", """{"n":5}"""),
        }));
    }

    [Test]
    public async Task ReadCommittedSeqs_ReturnsEveryWrittenTopic()
    {
        var store = await OpenAsync();
        await store.CommitAsync([Upsert("orders", "o1", "{}"), Upsert("orders", "o2", "{}"), Upsert("robots", "r1", "{}")], default);

        var seqs = await store.ReadCommittedSeqsAsync(default);

        Assert.That(seqs, Is.EquivalentTo(new Dictionary<string, long> { ["orders"] = 2, ["robots"] = 1 }));
    }

    [Test]
    public async Task ExternalWrites_AreClaimedExactlyOnce_WithTheTopicsNextSeqs()
    {
        var store = await OpenAsync();
        var other = await OpenAsync();
        await store.CommitAsync([Upsert("orders", "o1", """{"n":1}"""), Upsert("orders", "o2", """{"n":2}""")], default);

        await ExecuteAsync("""INSERT INTO entities (topic, id, data) VALUES ('orders', 'o3', '{"n":3}')""");
        await ExecuteAsync("""UPDATE entities SET data = '{"n":10}' WHERE topic = 'orders' AND id = 'o1'""");
        await ExecuteAsync("DELETE FROM entities WHERE topic = 'orders' AND id = 'o2'");

        var claimed = (await store.CommitExternalChangesAsync(_ => true, default))
            .Concat(await other.CommitExternalChangesAsync(_ => true, default))
            .Concat(await store.CommitExternalChangesAsync(_ => true, default))
            .ToList();

        Assert.That(claimed.Select(c => c.Seq).Order(), Is.EqualTo(new[] { 3L, 4L, 5L }));
        Assert.That(claimed.Select(c => (c.Id, Text(c.Data))), Is.EquivalentTo(new[]
        {
            ("o1", """{"n":10}"""), ("o2", "<delete>"), ("o3", """{"n":3}"""),
        }));
        var loaded = (await other.LoadAsync(["orders"], default))[0];
        Assert.That(loaded.Seq, Is.EqualTo(5));
        Assert.That(loaded.Entities.Select(e => (e.Key, Text(e.Value))), Is.EquivalentTo(new[] { ("o1", """{"n":10}"""), ("o3", """{"n":3}""") }));
    }

    [Test]
    public async Task ExternalDelete_SettledByALaterCommit_IsNeverClaimed()
    {
        var store = await OpenAsync();
        await store.CommitAsync([Upsert("orders", "o1", "{}")], default);
        await ExecuteAsync("DELETE FROM entities WHERE topic = 'orders' AND id = 'o1'");
        await store.CommitAsync([Upsert("orders", "o1", """{"back":true}""")], default);

        var claimed = await store.CommitExternalChangesAsync(_ => true, default);

        Assert.That(claimed, Is.Empty);
        Assert.That((await store.LoadAsync(["orders"], default))[0].Entities.Select(e => e.Key), Is.EqualTo(new[] { "o1" }));
    }

    [Test]
    public async Task ExternalRows_OfUnknownTopicsOrNotJsonObjects_AreLeftUnclaimed()
    {
        var store = await OpenAsync();
        await ExecuteAsync("""INSERT INTO entities (topic, id, data) VALUES ('nosuch', 'x', '{}')""");
        await ExecuteAsync("""INSERT INTO entities (topic, id, data) VALUES ('orders', 'bad', '[1,2]')""");
        await ExecuteAsync("""INSERT INTO entities (topic, id, data) VALUES ('orders', 'good', '{"ok":1}')""");

        var claimed = await store.CommitExternalChangesAsync(topic => topic == "orders", default);

        Assert.That(claimed.Select(c => (c.Topic, c.Id, c.Seq)), Is.EqualTo(new[] { ("orders", "good", 1L) }));
    }

    [Test]
    public async Task FailedCommit_TakesNoSeq_AndLeavesNothingBehind()
    {
        var store = await OpenAsync();
        await store.CommitAsync([Upsert("orders", "o1", "{}")], default);
        await FailCommitsOfIdAsync("poison");

        Assert.ThrowsAsync<StoreUnavailableException>(() => store.CommitAsync([Upsert("orders", "o2", "{}"), Upsert("orders", "poison", "{}")], default));
        var next = await store.CommitAsync([Upsert("orders", "o3", "{}")], default);

        Assert.That(next.Single().Seq, Is.EqualTo(2), "the failed batch's seqs were never taken");
        var loaded = (await store.LoadAsync(["orders"], default))[0];
        Assert.That(loaded.Entities.Select(e => e.Key), Is.EquivalentTo(new[] { "o1", "o3" }));
        Assert.That(loaded.History.Select(c => c.Id), Is.EqualTo(new[] { "o1", "o3" }));
    }

    [Test]
    public async Task TwoWritersOnOneDatabase_GiveOneTopicContiguousSeqs_InCommitOrder()
    {
        var a = await OpenAsync(historySize: 10_000);
        var b = await OpenAsync(historySize: 10_000);

        async Task<List<StoredChange>> WriteAsync(IStateStore store, string writer)
        {
            var committed = new List<StoredChange>();
            for (var i = 0; i < 40; i++)
            {
                committed.AddRange(await store.CommitAsync([Upsert("orders", $"{writer}{i}a", "{}"), Upsert("orders", $"{writer}{i}b", "{}")], default));
            }

            return committed;
        }

        var results = await Task.WhenAll(Task.Run(() => WriteAsync(a, "a")), Task.Run(() => WriteAsync(b, "b")));

        var seqs = results.SelectMany(r => r.Select(c => c.Seq)).Order().ToList();
        Assert.That(seqs, Is.EqualTo(Enumerable.Range(1, 160).Select(i => (long)i)), "no hole, no seq twice");
        foreach (var result in results)
        {
            Assert.That(result.Select(c => c.Seq), Is.Ordered.Ascending, "each writer's own changes in its order");
        }

        var history = await a.ReadChangesAsync("orders", 0, 160, default);
        Assert.That(history.Select(c => c.Seq), Is.EqualTo(seqs));
        Assert.That(history.Select(c => c.Id), Is.EquivalentTo(results.SelectMany(r => r.Select(c => c.Id))));
    }

    [Test]
    public async Task ReplaceTopic_ReplacesEntitiesAndSeq_EmptiesHistory_AndLaterCommitsFollowTheNewSeq()
    {
        var store = await OpenAsync();
        await store.CommitAsync([Upsert("site-1/orders", "old", "{}"), Upsert("site-1/orders", "kept", """{"v":1}"""), Upsert("orders", "o1", "{}")], default);

        await store.ReplaceTopicAsync("site-1/orders", 40, new Dictionary<string, byte[]> { ["kept"] = Encoding.UTF8.GetBytes("""{"v":2}"""), ["new"] = Encoding.UTF8.GetBytes("{}") }, default);
        var next = await store.CommitAsync([Delete("site-1/orders", "new")], default);

        Assert.That(next.Single().Seq, Is.EqualTo(41));
        var reopened = await OpenAsync();
        var loaded = (await reopened.LoadAsync(["site-1/orders", "orders"], default)).ToDictionary(t => t.Topic);
        Assert.That(loaded["site-1/orders"].Seq, Is.EqualTo(41));
        Assert.That(loaded["site-1/orders"].Entities.ToDictionary(e => e.Key, e => Text(e.Value)), Is.EqualTo(new Dictionary<string, string> { ["kept"] = """{"v":2}""" }));
        Assert.That(loaded["site-1/orders"].History.Select(c => c.Seq), Is.EqualTo(new[] { 41L }), "the history before the replacement is gone");
        Assert.That(loaded["orders"].Seq, Is.EqualTo(1), "other topics untouched");
        Assert.That(await reopened.CommitExternalChangesAsync(_ => true, default), Is.Empty, "the replacement left no tombstones for other programs' deletes");
    }

    [Test]
    public async Task UpstreamPositions_AreSavedAndLoadedAcrossARestart()
    {
        var store = await OpenAsync();
        Assert.That(await store.LoadUpstreamPositionsAsync(default), Is.Empty);

        await store.SaveUpstreamPositionsAsync(new Dictionary<string, long> { ["orders"] = 5, ["robots"] = 7 }, default);
        await store.SaveUpstreamPositionsAsync(new Dictionary<string, long> { ["orders"] = 9 }, default);

        var reopened = await OpenAsync();
        Assert.That(await reopened.LoadUpstreamPositionsAsync(default), Is.EqualTo(new Dictionary<string, long> { ["orders"] = 9, ["robots"] = 7 }));
    }
}
