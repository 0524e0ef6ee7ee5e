using System.Diagnostics;
using Npgsql;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// A private PostgreSQL 15 for the test run: <c>initdb</c> into a temp folder the postgres user owns
/// (PostgreSQL refuses to run as root), <c>postgres</c> on a loopback port chosen from a range and
/// retried if taken, ready when it says so. One per run (<see cref="SharedAsync"/>), a fresh
/// database per fixture (<see cref="CreateDatabaseAsync"/>); stopped by <see cref="RunTeardown"/>.
/// </summary>
internal sealed class PostgresServer
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private static readonly SemaphoreSlim SharedGate = new(1, 1);
    private static PostgresServer? s_shared;
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

    public static async Task<PostgresServer> SharedAsync()
    {
        await SharedGate.WaitAsync();
        try
        {
            return s_shared ??= await StartAsync();
        }
        finally
        {
            SharedGate.Release();
        }
    }

    public static async Task StopSharedAsync()
    {
        if (s_shared is { } server)
        {
            s_shared = null;
            await server.StopAsync();
        }
    }

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
        ServerProcess.Signal(PostmasterPid(), 3); // SIGQUIT: immediate shutdown
        await _server.WaitForExitAsync();
        await _server.DisposeAsync();
    }

    /// <summary>Starts the server again on the same port and data, after <see cref="CrashAsync"/>.</summary>
    public async Task RestartAsync()
    {
        var (ready, server) = await ServerProcess.StartAsync("database system is ready to accept connections", PostgresCommand(_root, Port));
        Assert.That(ready, Is.True, "PostgreSQL did not restart:\n" + server.Output);
        _server = server;
    }

    private int PostmasterPid() => int.Parse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A server of the test's own (for tests that crash it), stopped by <see cref="StopAsync"/>.</summary>
    public static Task<PostgresServer> StartPrivateAsync() => StartAsync();

    private static async Task<PostgresServer> StartAsync()
    {
        await SystemPackages.RequireAsync($"{Bin}/postgres", "postgresql");
        var root = (await RunAsync("runuser", "-u", "postgres", "--", "mktemp", "-d", "/tmp/topicbroker-pg-XXXXXX")).Trim();
        await RunAsync("runuser", "-u", "postgres", "--", $"{Bin}/initdb", "-D", Path.Combine(root, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync");
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20_000, 40_000);
            var (ready, server) = await ServerProcess.StartAsync("database system is ready to accept connections", PostgresCommand(root, port));
            if (ready)
            {
                return new PostgresServer(root, port, server);
            }

            await server.DisposeAsync();
            Assert.That(attempt, Is.LessThan(10), "PostgreSQL did not start:\n" + server.Output);
        }
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
            ServerProcess.Signal(PostmasterPid(), 2); // SIGINT: fast shutdown
            await _server.WaitForExitAsync();
        }

        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private static async Task<string> RunAsync(params string[] command)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().DefaultTimeout(TimeSpan.FromMinutes(2));
        Assert.That(process.ExitCode, Is.Zero, $"{string.Join(' ', command)} failed:\n{await stdout}\n{await stderr}");
        return await stdout;
    }
}
