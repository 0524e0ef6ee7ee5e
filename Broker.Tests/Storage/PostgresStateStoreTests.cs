using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using Npgsql;
using TopicBroker.Storage;

namespace TopicBroker.Tests.Storage;

/// <summary>The store specification on PostgreSQL: the run's shared server, a fresh database per test.</summary>
public sealed class PostgresStateStoreTests : StateStoreSpecification
{
    private PostgresServer _server = null!;
    private string _connectionString = null!;

    protected override async Task CreateDatabaseAsync()
    {
        _server = await PostgresServer.SharedAsync();
        _connectionString = await _server.CreateDatabaseAsync();
    }

    protected override Task DropDatabaseAsync() => _server.DropDatabaseAsync(_connectionString);

    private protected override Task<IStateStore> CreateStoreAsync(int historySize) =>
        Task.FromResult<IStateStore>(new PostgresStateStore(
            Options.Create(new BrokerOptions
            {
                HistorySize = historySize,
                Storage = new StorageOptions { Provider = StorageProvider.Postgres, ConnectionString = _connectionString },
            }),
            TimeProvider.System,
            NullLogger<PostgresStateStore>.Instance));

    protected override async Task ExecuteAsync(string sql)
    {
        // The schema exists once a store has run; another program writes to the broker's tables.
        await using (var store = await CreateStoreAsync(10))
        {
            await store.ReadCommittedSeqsAsync(default);
        }

        await PostgresServer.ExecuteAsync(_connectionString, sql);
    }

    /// <summary>
    /// Two nodes' batches touching the same topics in opposite orders: each batch takes its topic
    /// row locks in one sorted order (docs/operations.md "Cluster mode"), so one waits for the other
    /// instead of both deadlocking. Another program's row lock on the second topic lines them up:
    /// the [second, first] batch queues on it first, the [first, second] one after; released, a
    /// commit that locked in its own order would now hold one row each and deadlock.
    /// </summary>
    [Test]
    public async Task BatchesLockingTwoTopicsInOppositeOrders_BothCommit_NeitherDeadlocks()
    {
        await using (var setup = await CreateStoreAsync(100))
        {
            await setup.CommitAsync([Change("first", "0"), Change("second", "0")], default);
        }

        await using var a = await CreateStoreAsync(100);
        await using var b = await CreateStoreAsync(100);
        await using var holder = new NpgsqlConnection(_connectionString);
        await holder.OpenAsync();
        var held = await holder.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("SELECT seq FROM topics WHERE topic = 'second' FOR UPDATE", holder, held))
        {
            await command.ExecuteScalarAsync();
        }

        var secondFirst = b.CommitAsync([Change("second", "b"), Change("first", "b")], default);
        await WaitForLockWaitersAsync(1);
        var firstSecond = a.CommitAsync([Change("first", "a"), Change("second", "a")], default);
        await WaitForLockWaitersAsync(2);
        await held.CommitAsync();

        var committed = await Task.WhenAll(secondFirst, firstSecond).DefaultTimeout();
        Assert.That(committed.SelectMany(c => c).Where(c => c.Topic == "first").Select(c => c.Seq).Order(), Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(committed.SelectMany(c => c).Where(c => c.Topic == "second").Select(c => c.Seq).Order(), Is.EqualTo(new long[] { 2, 3 }));
    }

    private static NewChange Change(string topic, string id) => new(topic, id, Encoding.UTF8.GetBytes("{}"));

    /// <summary>Waits until this many sessions on the test's database wait for a lock (pg_stat_activity).</summary>
    private async Task WaitForLockWaitersAsync(int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (Convert.ToInt64(await PostgresServer.ScalarAsync(_connectionString,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"), System.Globalization.CultureInfo.InvariantCulture) < count)
        {
            Assert.That(timeout.IsCancellationRequested, Is.False, $"fewer than {count} commits came to wait for a row lock");
        }
    }

    protected override Task FailCommitsOfIdAsync(string id) => ExecuteAsync($"""
        CREATE FUNCTION fail_{id}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
        CREATE TRIGGER fail_{id} BEFORE INSERT ON updates FOR EACH ROW WHEN (NEW.id = '{id}') EXECUTE FUNCTION fail_{id}();
        """);
}
