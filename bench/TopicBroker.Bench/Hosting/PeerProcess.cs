using System.Net;
using System.Text.Json;
using TopicBroker.Testing;

namespace TopicBroker.Bench.Hosting;

/// <summary>
/// A reference server of the peers mode (bench/peers/: Bun's <c>Bun.serve</c> pub/sub, Node with
/// <c>ws</c>) as a child process (<see cref="ServerProcess"/>). It listens on free loopback ports
/// and announces them on its first output line; it exits when its standard input closes, and is
/// killed on dispose too.
/// </summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    private static readonly TimeSpan s_readinessTimeout = TimeSpan.FromSeconds(30);

    private readonly ServerProcess _server;

    private PeerProcess(ServerProcess server, BrokerTarget target)
    {
        _server = server;
        Target = target;
    }

    public BrokerTarget Target { get; }

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

        var startInfo = ServerProcess.CreateStartInfo(program, [script], peersDirectory);
        // Its standard input stays open until the peer is disposed (or this process dies).
        startInfo.RedirectStandardInput = true;
        startInfo.Environment["DO_NOT_TRACK"] = "1";
        startInfo.Environment["NODE_ENV"] = "production";
        startInfo.Environment.Remove(BenchProgram.InlineCompletionsVariable);

        var announcement = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        ServerProcess server;
        try
        {
            server = ServerProcess.Start(startInfo, line =>
            {
                if (line.StartsWith("{\"ready\":true", StringComparison.Ordinal))
                {
                    announcement.TrySetResult(line);
                }
            });
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new BenchSetupException($"Could not start {program} for the {peer} peer: {ex.Message}", ex);
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_readinessTimeout);
            var exited = server.WaitForExitAsync(timeout.Token);
            var first = await Task.WhenAny(announcement.Task, exited).WaitAsync(timeout.Token).ConfigureAwait(false);
            if (first != announcement.Task)
            {
                throw new BenchSetupException($"The {peer} peer exited during start-up: {string.Join(" | ", server.LastOutput)}");
            }

            using var ports = JsonDocument.Parse(await announcement.Task.ConfigureAwait(false));
            var httpPort = ports.RootElement.GetProperty("http").GetInt32();
            var bridgePort = ports.RootElement.GetProperty("bridge").GetInt32();
            var target = new BrokerTarget(
                new Uri($"http://127.0.0.1:{httpPort}/"),
                new IPEndPoint(IPAddress.Loopback, httpPort),
                new IPEndPoint(IPAddress.Loopback, bridgePort),
                server.Id,
                Owned: true,
                Arguments: [program, script]);
            output.WriteLine($"{peer}: pid {server.Id}, http {target.HttpBase}, bridge {target.BridgeEndPoint}");
            return new PeerProcess(server, target);
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
            await _server.DisposeAsync().ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Killing did not finish within the bound.
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
