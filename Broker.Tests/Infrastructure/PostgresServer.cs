using Npgsql;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// The tests' PostgreSQL 15 (<see cref="PostgresProcess"/>, installed when missing, fsync off):
/// one per run (<see cref="SharedAsync"/>), a fresh database per fixture
/// (<see cref="CreateDatabaseAsync"/>); stopped by <see cref="RunTeardown"/>.
/// </summary>
internal sealed class PostgresServer
{
    private static readonly SharedServer<PostgresServer> s_shared = new(StartAsync, server => server.StopAsync());
    private readonly PostgresProcess _process;

    private PostgresServer(PostgresProcess process) => _process = process;

    public int Port => _process.Port;

    public string AdminConnectionString => _process.ConnectionString + ";Pooling=false";

    public static Task<PostgresServer> SharedAsync() => s_shared.GetAsync();

    public static Task StopSharedAsync() => s_shared.StopAsync();

    /// <summary>A server of the test's own (for tests that crash it), stopped by <see cref="StopAsync"/>.</summary>
    public static Task<PostgresServer> StartPrivateAsync() => StartAsync();

    /// <summary>A new empty database; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "tb_" + Guid.NewGuid().ToString("N")[..16];
        await ExecuteAsync(AdminConnectionString, $"CREATE DATABASE {name}");
        return _process.ConnectionStringFor(name);
    }

    public async Task DropDatabaseAsync(string connectionString)
    {
        NpgsqlConnection.ClearAllPools();
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        await ExecuteAsync(AdminConnectionString, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    }

    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<object?> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    /// <inheritdoc cref="PostgresProcess.CrashAsync"/>
    public Task CrashAsync() => _process.CrashAsync();

    /// <inheritdoc cref="PostgresProcess.RestartAsync"/>
    public Task RestartAsync() => _process.RestartAsync();

    public Task StopAsync() => _process.DisposeAsync().AsTask();

    private static async Task<PostgresServer> StartAsync()
    {
        await SystemPackages.RequireAsync(PostgresProcess.Binary, "postgresql");
        return new PostgresServer(await PostgresProcess.StartAsync());
    }
}
