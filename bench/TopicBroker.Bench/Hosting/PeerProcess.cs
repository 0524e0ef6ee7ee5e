using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace TopicBroker.Bench.Hosting;

/// <summary>
/// A reference server of the peers mode (bench/peers/: Bun's <c>Bun.serve</c> pub/sub, Node with
/// <c>ws</c>) as a child process. It listens on free loopback ports and announces them on its
/// first output line; it exits when its standard input closes, and is killed on dispose too.
/// </summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    private static readonly TimeSpan s_readinessTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly TaskCompletionSource<string> _announcement = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<string> _lastOutput = new();
    private readonly Lock _outputLock = new();

    private PeerProcess(Process process) => _process = process;

    public BrokerTarget Target { get; private set; } = null!;

    public IReadOnlyList<string> LastOutput
    {
        get
        {
            lock (_outputLock)
            {
                return [.. _lastOutput];
            }
        }
    }

    /// <summary>The command that runs a peer, relative to bench/peers; null for an unknown name.</summary>
    public static (string Program, string Script)? CommandFor(string peer, string peersDirectory) => peer switch
    {
        PeerNames.Bun => (Path.Combine(peersDirectory, "node_modules", ".bin", "bun"), "bun-server.mjs"),
        PeerNames.NodeWs => ("node", "node-ws-server.mjs"),
        _ => null,
    };

    public static async Task<PeerProcess> StartAsync(string peer, string peersDirectory, TextWriter output, CancellationToken cancellationToken)
    {
        var (program, script) = CommandFor(peer, peersDirectory)
            ?? throw new BenchSetupException($"Unknown peer '{peer}'.");
        if (!File.Exists(Path.Combine(peersDirectory, "node_modules", "ws", "package.json")) ||
            (peer == PeerNames.Bun && !File.Exists(program)))
        {
            throw new BenchSetupException($"The peers' packages are not installed: run 'npm ci' in {peersDirectory}.");
        }

        var startInfo = new ProcessStartInfo(program)
        {
            WorkingDirectory = peersDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add(script);
        startInfo.Environment["DO_NOT_TRACK"] = "1";
        startInfo.Environment["NODE_ENV"] = "production";
        startInfo.Environment.Remove(BenchProgram.InlineCompletionsVariable);

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        try
        {
            if (!process.Start())
            {
                throw new BenchSetupException($"Could not start {program} for the {peer} peer.");
            }
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            process.Dispose();
            throw new BenchSetupException($"Could not start {program} for the {peer} peer: {ex.Message}", ex);
        }

        var server = new PeerProcess(process);
        process.OutputDataReceived += (_, e) => server.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnOutput(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var exited = process.WaitForExitAsync(cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_readinessTimeout);
            var first = await Task.WhenAny(server._announcement.Task, exited).WaitAsync(timeout.Token).ConfigureAwait(false);
            if (first != server._announcement.Task)
            {
                throw new BenchSetupException($"The {peer} peer exited during start-up: {string.Join(" | ", server.LastOutput)}");
            }

            using var announcement = JsonDocument.Parse(await server._announcement.Task.ConfigureAwait(false));
            var httpPort = announcement.RootElement.GetProperty("http").GetInt32();
            var bridgePort = announcement.RootElement.GetProperty("bridge").GetInt32();
            server.Target = new BrokerTarget(
                new Uri($"http://127.0.0.1:{httpPort}/"),
                new IPEndPoint(IPAddress.Loopback, httpPort),
                new IPEndPoint(IPAddress.Loopback, bridgePort),
                process.Id,
                Owned: true,
                Arguments: [program, script]);
            output.WriteLine($"{peer}: pid {process.Id}, http {server.Target.HttpBase}, bridge {server.Target.BridgeEndPoint}");
            return server;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw new BenchSetupException($"The {peer} peer did not announce its ports within {s_readinessTimeout.TotalSeconds:0} s: {string.Join(" | ", server.LastOutput)}");
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var exitTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(exitTimeout.Token).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Already exited and reaped.
        }
        catch (IOException)
        {
            // Its standard input was already gone.
        }
        catch (OperationCanceledException)
        {
            // Killing did not finish within the bound.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void OnOutput(string? line)
    {
        if (string.IsNullOrEmpty(line))
        {
            return;
        }

        if (line.StartsWith("{\"ready\":true", StringComparison.Ordinal))
        {
            _announcement.TrySetResult(line);
            return;
        }

        lock (_outputLock)
        {
            _lastOutput.Enqueue(line);
            while (_lastOutput.Count > 20)
            {
                _lastOutput.Dequeue();
            }
        }
    }
}

/// <summary>The servers the peers mode knows, by the name <c>--peers</c> takes.</summary>
internal static class PeerNames
{
    public const string TopicBroker = "topicbroker";
    public const string Bun = "bun";
    public const string NodeWs = "node";

    public static readonly IReadOnlyList<string> All = [TopicBroker, Bun, NodeWs];

    public static string Display(string peer) => peer switch
    {
        TopicBroker => "TopicBroker",
        Bun => "Bun (Bun.serve pub/sub)",
        NodeWs => "Node + ws",
        _ => peer,
    };
}
