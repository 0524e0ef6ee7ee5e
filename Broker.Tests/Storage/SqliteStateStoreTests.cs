using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Storage;

namespace TopicBroker.Tests.Storage;

/// <summary>The store specification on SQLite: a fresh file in a temp folder per test.</summary>
public sealed class SqliteStateStoreTests : StateStoreSpecification
{
    private string _directory = null!;

    private string DatabasePath => Path.Combine(_directory, "broker.db");

    protected override Task CreateDatabaseAsync()
    {
        _directory = Directory.CreateTempSubdirectory("topicbroker-store-").FullName;
        return Task.CompletedTask;
    }

    protected override Task DropDatabaseAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    private protected override Task<IStateStore> CreateStoreAsync(int historySize) =>
        Task.FromResult<IStateStore>(new SqliteStateStore(
            Options.Create(new BrokerOptions { Database = DatabasePath, HistorySize = historySize }),
            TimeProvider.System,
            NullLogger<SqliteStateStore>.Instance));

    protected override Task ExecuteAsync(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA busy_timeout = 10000; " + sql;
        command.ExecuteNonQuery();
        return Task.CompletedTask;
    }

    protected override Task FailCommitsOfIdAsync(string id) =>
        ExecuteAsync($"CREATE TRIGGER fail_{id} BEFORE INSERT ON updates WHEN NEW.id = '{id}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
}
