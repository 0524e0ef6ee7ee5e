using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
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

    protected override Task FailCommitsOfIdAsync(string id) => ExecuteAsync($"""
        CREATE FUNCTION fail_{id}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
        CREATE TRIGGER fail_{id} BEFORE INSERT ON updates FOR EACH ROW WHEN (NEW.id = '{id}') EXECUTE FUNCTION fail_{id}();
        """);
}
