using System.Diagnostics;
using System.Globalization;
using TopicBroker.Testing;

namespace TopicBroker.Bench.Hosting;

/// <summary>
/// A private PostgreSQL 15 for the cluster scenario (the same commands as the tests'
/// Broker.Tests/Infrastructure/PostgresServer.cs): <c>initdb</c> into a temp folder the postgres
/// user owns (PostgreSQL refuses to run as root), <c>postgres</c> on a loopback port picked from a
/// range and retried if taken. Disposing stops it (fast shutdown, then a kill) and deletes the folder.
/// </summary>
internal sealed class PostgresProcess : IAsyncDisposable
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private const string ReadyLine = "database system is ready to accept connections";

    private readonly string _root;
    private readonly ServerProcess _server;

    private PostgresProcess(string root, int port, ServerProcess server)
    {
        _root = root;
        Port = port;
        _server = server;
    }

    public int Port { get; }

    /// <summary>The Npgsql connection string of the default database, which the first node migrates.</summary>
    public string ConnectionString => string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres");

    /// <param name="fsync">Off trades durability against a machine crash for speed (acks then survive a process crash only).</param>
    public static async Task<PostgresProcess> StartAsync(bool fsync, CancellationToken cancellationToken)
    {
        if (!File.Exists($"{Bin}/postgres"))
        {
            throw new BenchSetupException($"PostgreSQL 15 is not installed ({Bin}/postgres): apt-get install postgresql.");
        }

        var root = (await RunAsync(["runuser", "-u", "postgres", "--", "mktemp", "-d", "/tmp/topicbroker-bench-pg-XXXXXX"], cancellationToken).ConfigureAwait(false)).Trim();
        try
        {
            await RunAsync(
                ["runuser", "-u", "postgres", "--", $"{Bin}/initdb", "-D", Path.Combine(root, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
                cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var (port, server) = await ServerProcess.StartOnFreePortAsync(ReadyLine, 20_000, 40_000, port => Command(root, port, fsync)).ConfigureAwait(false);
            return new PostgresProcess(root, port, server);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            TryDelete(root);
            throw new BenchSetupException($"PostgreSQL did not start: {ex.Message}", ex);
        }
        catch
        {
            TryDelete(root);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_server.HasExited && PostmasterPid() is { } pid)
        {
            // Fast shutdown (SIGINT): ends every backend without waiting for clients.
            PosixSignals.TrySend(pid, PosixSignals.Interrupt);
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

    private static string[] Command(string root, int port, bool fsync) =>
    [
        "runuser", "-u", "postgres", "--", $"{Bin}/postgres", "-D", Path.Combine(root, "data"), "-p", port.ToString(CultureInfo.InvariantCulture),
        "-k", root, "-h", "127.0.0.1",
        "-c", $"fsync={(fsync ? "on" : "off")}", "-c", $"full_page_writes={(fsync ? "on" : "off")}",
        "-c", "max_connections=200", "-c", "shared_buffers=256MB", "-c", "log_min_messages=warning",
    ];

    /// <summary>Runs a short command to its end and returns its standard output; a non-zero exit is a setup failure.</summary>
    private static async Task<string> RunAsync(string[] command, CancellationToken cancellationToken)
    {
        using var process = Process.Start(ServerProcess.CreateStartInfo(command[0], command.Skip(1)))
            ?? throw new BenchSetupException($"Could not start '{command[0]}'.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            throw new BenchSetupException($"'{string.Join(' ', command)}' exited with {process.ExitCode}: {await stderr.ConfigureAwait(false)}");
        }

        return await stdout.ConfigureAwait(false);
    }

    private int? PostmasterPid()
    {
        try
        {
            return int.Parse(File.ReadLines(Path.Combine(_root, "data", "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
        catch (FormatException)
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
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
