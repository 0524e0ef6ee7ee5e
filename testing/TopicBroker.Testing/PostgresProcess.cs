using System.Globalization;

namespace TopicBroker.Testing;

/// <summary>
/// A private PostgreSQL 15 as a child process, for the cluster tests and the bench's cluster
/// scenario: <c>initdb</c> into a temp folder the postgres user owns (PostgreSQL refuses to run as
/// root), <c>postgres</c> on a loopback port drawn from a range below the ephemeral ports (so a
/// restart finds it free) and retried if taken: its <c>port</c> setting must be 1 to 65535, so it
/// cannot bind port 0 and say which port it got. Disposing stops it (fast shutdown, then a kill)
/// and deletes the folder.
/// </summary>
public sealed class PostgresProcess : IAsyncDisposable
{
    /// <summary>The server binary; its absence means the Debian package <c>postgresql</c> is missing.</summary>
    public const string Binary = Bin + "/postgres";

    private const string Bin = "/usr/lib/postgresql/15/bin";
    private const string ReadyLine = "database system is ready to accept connections";
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromMinutes(2);

    private readonly string _root;
    private readonly string[] _settings;
    private ServerProcess _server;

    private PostgresProcess(string root, int port, string[] settings, ServerProcess server)
    {
        _root = root;
        Port = port;
        _settings = settings;
        _server = server;
    }

    /// <summary>The pid of the process this started (the postmaster, or the runuser above it); its descendants are the server.</summary>
    public int ProcessId => _server.Id;

    /// <summary>The loopback port it listens on, the same across <see cref="RestartAsync"/>.</summary>
    public int Port { get; }

    /// <summary>The Npgsql connection string of <paramref name="database"/> (user postgres, trusted).</summary>
    public string ConnectionStringFor(string database) =>
        string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database}");

    /// <summary>The Npgsql connection string of the default database.</summary>
    public string ConnectionString => ConnectionStringFor("postgres");

    /// <summary>
    /// initdb and start. <paramref name="fsync"/> off (the tests' choice) trades durability against
    /// a machine crash for speed: acks then survive a process crash only. <paramref name="settings"/>
    /// are further <c>name=value</c> server settings.
    /// </summary>
    public static async Task<PostgresProcess> StartAsync(bool fsync = false, IEnumerable<string>? settings = null, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"PostgreSQL 15 is not installed ({Binary}): apt-get install postgresql.");
        }

        string[] all =
        [
            $"fsync={(fsync ? "on" : "off")}", $"full_page_writes={(fsync ? "on" : "off")}", "max_connections=300", "log_min_messages=warning",
            .. settings ?? [],
        ];
        var root = (await RunAsync("runuser", "-u", "postgres", "--", "mktemp", "-d", "/tmp/topicbroker-pg-XXXXXX").ConfigureAwait(false)).Trim();
        try
        {
            await RunAsync("runuser", "-u", "postgres", "--", $"{Bin}/initdb", "-D", Path.Combine(root, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
                .ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var (port, server) = await ServerProcess.StartOnFreePortAsync(ReadyLine, 20_000, 32_000, port => Command(root, port, all)).ConfigureAwait(false);
            return new PostgresProcess(root, port, all, server);
        }
        catch
        {
            TryDelete(root);
            throw;
        }
    }

    /// <summary>Kills the server as a crash would (immediate shutdown: no checkpoint; recovery on the next start).</summary>
    public async Task CrashAsync()
    {
        PosixSignals.Send(PostmasterPid() ?? _server.Id, PosixSignals.Quit);
        await _server.WaitForExitAsync(ServerProcess.DefaultTimeout).ConfigureAwait(false);
        await _server.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Starts the server again on the same port and data, after <see cref="CrashAsync"/>.</summary>
    public async Task RestartAsync() =>
        _server = await ServerProcess.StartReadyAsync(ReadyLine, Command(_root, Port, _settings)).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (!_server.HasExited && PostmasterPid() is { } pid && PosixSignals.TrySend(pid, PosixSignals.Interrupt))
        {
            // Fast shutdown: ends every backend without waiting for clients.
            try
            {
                await _server.WaitForExitAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Killed below with its process tree.
            }
        }

        await _server.DisposeAsync().ConfigureAwait(false);
        TryDelete(_root);
    }

    private static string[] Command(string root, int port, string[] settings) =>
    [
        "runuser", "-u", "postgres", "--", Binary, "-D", Path.Combine(root, "data"), "-p", port.ToString(CultureInfo.InvariantCulture),
        "-k", root, "-h", "127.0.0.1", .. settings.SelectMany(setting => new[] { "-c", setting }),
    ];

    private static async Task<string> RunAsync(params string[] command)
    {
        var result = await CommandRun.RunAsync(s_commandTimeout, command).ConfigureAwait(false);
        return result.ExitCode == 0
            ? result.StandardOutput
            : throw new InvalidOperationException($"'{string.Join(' ', command)}' exited with {result.ExitCode}:\n{result.Output}");
    }

    /// <summary>The postmaster's pid (runuser's child), from its pid file; null once it is gone.</summary>
    private int? PostmasterPid()
    {
        try
        {
            return int.Parse(File.ReadLines(Path.Combine(_root, "data", "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private static void TryDelete(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
