using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using TopicBroker.Testing;

namespace TopicBroker.Bench.Hosting;

/// <summary>
/// The broker a scenario runs against, started by the bench as a child process
/// (<see cref="BrokerProcess"/>, shared with Broker.Tests: port 0, the ports read from its log,
/// killed on dispose) with a throw-away database and the bench's settings, ready once it answers
/// HTTP and the bridge. A restart (<see cref="StopAsync"/>, then <see cref="RestartAsync"/>) reuses
/// the ports and the database.
/// </summary>
internal sealed partial class BenchBroker : IAsyncDisposable
{
    private static readonly TimeSpan s_readinessTimeout = TimeSpan.FromSeconds(60);

    private readonly string _dataDirectory;
    private readonly string _readinessTopic;
    private BrokerProcess? _process;
    private int _outputLines;
    private string? _firstRunOutput;
    private volatile bool _ready;

    private BenchBroker(string dataDirectory, string readinessTopic, BrokerTarget target)
    {
        _dataDirectory = dataDirectory;
        _readinessTopic = readinessTopic;
        Target = target;
    }

    /// <summary>Where the broker listens; after the first start the ports stay the same across restarts.</summary>
    public BrokerTarget Target { get; private set; }

    /// <summary>The SQLite file the broker uses, the same across restarts.</summary>
    public string DatabasePath => Path.Combine(_dataDirectory, "bench.db");

    /// <summary>The current child's process id.</summary>
    public int ProcessId => Child.ProcessId;

    public bool HasExited => Child.HasExited;

    /// <summary>The exit code of the child that ended last (after <see cref="StopAsync"/>).</summary>
    public int ExitCode => Child.ExitCode;

    /// <summary>
    /// Lines the broker wrote after it became ready; it runs with MinimumLevel Warning, so these
    /// are warnings and errors of the run itself. Start-up warnings (such as running without a
    /// signing key on loopback) are kept in <see cref="FirstOutput"/> but not counted.
    /// </summary>
    public int OutputLines => Volatile.Read(ref _outputLines);

    /// <summary>The first line counted in <see cref="OutputLines"/>: usually the one that says what went wrong.</summary>
    public string? FirstRunOutput => Volatile.Read(ref _firstRunOutput);

    /// <summary>The first lines the broker wrote: where a start-up failure says what went wrong.</summary>
    public IReadOnlyList<string> FirstOutput => Child.FirstOutput;

    public IReadOnlyList<string> LastOutput => Child.LastOutput;

    private BrokerProcess Child => _process ?? throw new InvalidOperationException("The broker has not started.");

    public static async Task<BenchBroker> StartAsync(
        string brokerDll,
        BrokerConfiguration configuration,
        string? accessToken,
        TextWriter output,
        CancellationToken cancellationToken)
    {
        if (!File.Exists(brokerDll))
        {
            throw new BenchSetupException(
                $"The broker build was not found at '{Path.GetFullPath(brokerDll)}'. Run 'dotnet build -c Release Broker' " +
                "from the repository root, or pass --broker-dll <path to TopicBroker.dll>, or --url/--bridge for a running broker.");
        }

        var dll = Path.GetFullPath(brokerDll);
        var dataDirectory = Directory.CreateTempSubdirectory("topicbroker-bench-").FullName;
        var broker = new BenchBroker(dataDirectory, configuration.ReadinessTopic, new BrokerTarget(
            new Uri("http://127.0.0.1:0/"),
            new IPEndPoint(IPAddress.Loopback, 0),
            new IPEndPoint(IPAddress.Loopback, 0),
            ProcessId: null,
            Owned: true,
            Arguments: [],
            Dll: dll,
            AccessToken: accessToken));
        try
        {
            await broker.LaunchAsync(dll, configuration.ExtraArguments, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        output.WriteLine($"broker: pid {broker.ProcessId}, http {broker.Target.HttpBase}, bridge {broker.Target.BridgeEndPoint}");
        return broker;
    }

    /// <inheritdoc cref="BrokerProcess.StopAsync"/>
    public Task<bool> StopAsync(bool kill, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _ready = false;
        return Child.StopAsync(kill, timeout, cancellationToken);
    }

    /// <summary>Starts the broker again on the same ports and database, and waits until it is ready.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Child.RestartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (BrokerStartException ex)
        {
            throw new BenchSetupException(ex.Message, ex);
        }

        Target = Target with { ProcessId = Child.ProcessId };
        await WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_process is not null)
            {
                await _process.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (TimeoutException)
        {
            // Killing did not finish within the bound; nothing more a client can do.
        }
        finally
        {
            TryDeleteDataDirectory();
        }
    }

    private async Task LaunchAsync(string dll, IReadOnlyList<string> extraArguments, CancellationToken cancellationToken)
    {
        List<string> arguments =
        [
            "--Broker:TcpBridge:Address=127.0.0.1",
            $"--Broker:Database={DatabasePath}",
            // Keep-alive traffic would be noise in every measurement; the scenarios are shorter
            // than these intervals (protocol.md "Frames", keep-alive).
            "--Broker:PingInterval=00:10:00",
            "--Broker:PongTimeout=01:00:00",
            "--Broker:MaxConnectionsPerTopic=100000",
            "--Serilog:MinimumLevel:Default=Warning",
            // Everything the broker prints at Warning and above is worth reporting; the two
            // Information lines that say which ports it bound are read for the ports.
            "--Serilog:MinimumLevel:Override:Microsoft.Hosting.Lifetime=Information",
            "--Serilog:MinimumLevel:Override:TopicBroker.Ingest.BridgeListener=Information",
            .. extraArguments,
        ];

        var startInfo = BrokerProcess.CreateStartInfo(dll, Path.GetDirectoryName(dll)!, arguments);
        // The generator's own socket tuning must not leak into the broker under test.
        startInfo.Environment.Remove(BenchProgram.InlineCompletionsVariable);

        try
        {
            _process = await BrokerProcess.StartAsync(startInfo, OnOutput, cancellationToken).ConfigureAwait(false);
        }
        catch (BrokerStartException ex)
        {
            throw new BenchSetupException(ex.Message, ex);
        }

        Target = Target with
        {
            HttpBase = _process.HttpUri,
            HttpEndPoint = new IPEndPoint(IPAddress.Loopback, _process.HttpUri.Port),
            BridgeEndPoint = new IPEndPoint(IPAddress.Loopback, _process.BridgeEndPoint.Port),
            ProcessId = _process.ProcessId,
            // The results record the arguments; a signing key must not end up in a file.
            Arguments = [.. arguments.Select(a => a.Contains("SigningKey=", StringComparison.OrdinalIgnoreCase) ? a[..(a.IndexOf('=') + 1)] + "***" : a)],
        };
        await WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        // A generous per-probe timeout: a probe abandoned while a starting broker on a loaded
        // machine is still queueing it makes the broker log the aborted request as an error (a
        // 500 from the request log) after the run has started, which would count as a problem.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        if (Target.AccessToken is { } token)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        var probe = new Uri(Target.HttpBase, $"api/topics/{Uri.EscapeDataString(_readinessTopic)}");
        var deadline = Stopwatch.GetTimestamp() + (long)(s_readinessTimeout.TotalSeconds * Stopwatch.Frequency);
        string lastFailure = "no answer yet";
        while (Stopwatch.GetTimestamp() < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Child.HasExited)
            {
                // Also waits for the redirected output to reach its end, so the message is complete.
                await Child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                throw new BenchSetupException(
                    $"The broker exited with code {Child.ExitCode} during start-up. Its output began:{Environment.NewLine}" +
                    string.Join(Environment.NewLine, FirstOutput));
            }

            try
            {
                using var response = await http.GetAsync(probe, cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode && await IsBridgeListeningAsync(cancellationToken).ConfigureAwait(false))
                {
                    _ready = true;
                    return;
                }

                if (response.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
                {
                    throw new BenchSetupException(
                        $"The broker is up but refuses the benchmark ({(int)response.StatusCode}): it requires a token. " +
                        "Use --auth (the tool picks the key), or --signing-key <its key>, or --token <jwt>.");
                }

                lastFailure = $"GET {probe} answered {(int)response.StatusCode}";
            }
            catch (HttpRequestException ex)
            {
                lastFailure = ex.Message;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                lastFailure = "GET timed out";
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }

        throw new BenchSetupException(
            $"The broker did not become ready within {s_readinessTimeout.TotalSeconds:0} s ({lastFailure}). Its output began:{Environment.NewLine}" +
            string.Join(Environment.NewLine, FirstOutput));
    }

    private async Task<bool> IsBridgeListeningAsync(CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(Target.BridgeEndPoint, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void OnOutput(string line)
    {
        // The broker runs with MinimumLevel Warning, so every line it writes during the run is
        // worth a look.
        if (line.Length > 0 && _ready && !InformationLine().IsMatch(line))
        {
            Interlocked.Increment(ref _outputLines);
            Interlocked.CompareExchange(ref _firstRunOutput, line, null);
        }
    }

    private void TryDeleteDataDirectory()
    {
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Lines at Information are the lifetime and listening lines asked for above, not problems.</summary>
    [GeneratedRegex(@"^\[\d\d:\d\d:\d\d INF\]")]
    private static partial Regex InformationLine();
}
