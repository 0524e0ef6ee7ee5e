using System.Globalization;

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
    private const int Sigint = 2;

    private readonly string _root;
    private readonly ServerProcess _server;

    private PostgresProcess(string root, int port, ServerProcess server)
    {
        _root = root;
        Port = port;
        _server = server;
    }

    public int Port { get; }

    /// <summary>The Npgsql connection string of the default database, which the brokers migrate.</summary>
    public string ConnectionString => string.Create(CultureInfo.InvariantCulture, $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres");

    /// <param name="fsync">Off trades durability against a machine crash for speed (acks then survive a process crash only).</param>
    public static async Task<PostgresProcess> StartAsync(bool fsync, CancellationToken cancellationToken)
    {
        if (!File.Exists($"{Bin}/postgres"))
        {
            throw new BenchSetupException($"PostgreSQL 15 is not installed ({Bin}/postgres): apt-get install postgresql.");
        }

        var root = (await ServerProcess.RunToEndAsync(["runuser", "-u", "postgres", "--", "mktemp", "-d", "/tmp/topicbroker-bench-pg-XXXXXX"], cancellationToken).ConfigureAwait(false)).Trim();
        try
        {
            await ServerProcess.RunToEndAsync(
                ["runuser", "-u", "postgres", "--", $"{Bin}/initdb", "-D", Path.Combine(root, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
                cancellationToken).ConfigureAwait(false);
            for (var attempt = 0; ; attempt++)
            {
                var port = Random.Shared.Next(20_000, 40_000);
                var (ready, server) = await ServerProcess.StartAsync(ReadyLine, Command(root, port, fsync), cancellationToken).ConfigureAwait(false);
                if (ready)
                {
                    return new PostgresProcess(root, port, server);
                }

                var output = server.Output;
                await server.DisposeAsync().ConfigureAwait(false);
                if (attempt >= 10)
                {
                    throw new BenchSetupException($"PostgreSQL did not start: {output}");
                }
            }
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
            ServerProcess.SendSignal(pid, Sigint); // fast shutdown: ends every backend, no waiting for clients
            await _server.WaitForExitAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
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
