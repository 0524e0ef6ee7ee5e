using Npgsql;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// A private PostgreSQL 15 for the test run: <c>initdb</c> into a temp folder the postgres user owns
/// (PostgreSQL refuses to run as root), <c>postgres</c> on a loopback port drawn from a range below
/// the ephemeral ports (so a restart finds it free) and retried if taken (it cannot bind port 0
/// and say which port it got), ready when it says so. One per run (<see cref="SharedAsync"/>), a
/// fresh database per fixture (<see cref="CreateDatabaseAsync"/>); stopped by <see cref="RunTeardown"/>.
/// </summary>
internal sealed class PostgresServer
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private const string ReadyLine = "database system is ready to accept connections";
    private static readonly SharedServer<PostgresServer> s_shared = new(StartAsync, server => server.StopAsync());
    private readonly string _root;
    private ServerProcess _server;

    private PostgresServer(string root, int port, ServerProcess server)
    {
        _root = root;
        Port = port;
        _server = server;
    }

    public int Port { get; }

    private string DataDirectory => Path.Combine(_root, "data");

    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false";

    public static Task<PostgresServer> SharedAsync() => s_shared.GetAsync();

    public static Task StopSharedAsync() => s_shared.StopAsync();

    /// <summary>A new empty database; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "tb_" + Guid.NewGuid().ToString("N")[..16];
        await ExecuteAsync(AdminConnectionString, $"CREATE DATABASE {name}");
        return $"Host=127.0.0.1;Port={Port};Username=postgres;Database={name}";
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

    /// <summary>Kills the server as a crash would (immediate shutdown: no checkpoint; recovery on the next start).</summary>
    public async Task CrashAsync()
    {
        PosixSignals.Send(PostmasterPid(), PosixSignals.Quit); // immediate shutdown
        await _server.WaitForExitAsync(ServerProcess.DefaultTimeout);
        await _server.DisposeAsync();
    }

    /// <summary>Starts the server again on the same port and data, after <see cref="CrashAsync"/>.</summary>
    public async Task RestartAsync()
    {
        _server = await ServerProcess.StartReadyAsync(ReadyLine, PostgresCommand(_root, Port));
    }

    private int PostmasterPid() => int.Parse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A server of the test's own (for tests that crash it), stopped by <see cref="StopAsync"/>.</summary>
    public static Task<PostgresServer> StartPrivateAsync() => StartAsync();

    private static async Task<PostgresServer> StartAsync()
    {
        await SystemPackages.RequireAsync($"{Bin}/postgres", "postgresql");
        var root = (await RunAsync("runuser", "-u", "postgres", "--", "mktemp", "-d", "/tmp/topicbroker-pg-XXXXXX")).Trim();
        await RunAsync("runuser", "-u", "postgres", "--", $"{Bin}/initdb", "-D", Path.Combine(root, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync");
        var (port, server) = await ServerProcess.StartOnFreePortAsync(ReadyLine, 20_000, 32_000, port => PostgresCommand(root, port));
        return new PostgresServer(root, port, server);
    }

    private static string[] PostgresCommand(string root, int port) =>
    [
        "runuser", "-u", "postgres", "--", $"{Bin}/postgres", "-D", Path.Combine(root, "data"), "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "-k", root, "-h", "127.0.0.1",
        // A test server: durability against a process crash (what the tests exercise) needs no fsync.
        "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "log_min_messages=warning",
    ];

    public async Task StopAsync()
    {
        if (!_server.HasExited)
        {
            PosixSignals.Send(PostmasterPid(), PosixSignals.Interrupt); // fast shutdown
            await _server.WaitForExitAsync(ServerProcess.DefaultTimeout);
        }

        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private static async Task<string> RunAsync(params string[] command)
    {
        var result = await CommandRun.RunAsync(TimeSpan.FromMinutes(2), command);
        Assert.That(result.ExitCode, Is.Zero, $"{string.Join(' ', command)} failed:\n{result.Output}");
        return result.StandardOutput;
    }
}
