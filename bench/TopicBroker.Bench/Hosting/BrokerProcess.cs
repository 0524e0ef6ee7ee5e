using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace TopicBroker.Bench.Hosting;

/// <summary>
/// Runs the broker as a child process (<c>dotnet TopicBroker.dll</c>) on loopback with a
/// throw-away database, waits until it answers HTTP, and kills it on dispose, whatever happened
/// before (exception, Ctrl+C). The child binds port 0 for HTTP and the bridge and its log says
/// which ports it got (no bind-then-release race); a restart (<see cref="StopAsync"/>, then
/// <see cref="RestartAsync"/>) reuses those ports and the same database. Its console output is
/// drained so it never blocks on a full pipe; the last lines are kept for error messages.
/// </summary>
internal sealed partial class BrokerProcess : IAsyncDisposable
{
    private const int KeptOutputLines = 40;
    private const int KeptFirstLines = 15;
    private const int Sigterm = 15;
    private static readonly TimeSpan s_readinessTimeout = TimeSpan.FromSeconds(60);

    private readonly string _brokerDll;
    private readonly BrokerConfiguration _configuration;
    private readonly string _dataDirectory;
    private readonly Queue<string> _lastOutput = new();
    private readonly List<string> _firstOutput = [];
    private readonly Lock _outputLock = new();
    private Process _process;
    private TaskCompletionSource<int> _httpPort = NewPortSource();
    private TaskCompletionSource<int> _bridgePort = NewPortSource();
    private int _outputLines;
    private string? _firstRunOutput;
    private volatile bool _ready;

    private BrokerProcess(string brokerDll, BrokerConfiguration configuration, string dataDirectory, BrokerTarget target)
    {
        _brokerDll = brokerDll;
        _configuration = configuration;
        _dataDirectory = dataDirectory;
        _process = null!;
        Target = target;
    }

    /// <summary>Where the broker listens; after the first start the ports stay the same across restarts.</summary>
    public BrokerTarget Target { get; private set; }

    /// <summary>The SQLite file the broker uses, the same across restarts.</summary>
    public string DatabasePath => Path.Combine(_dataDirectory, "bench.db");

    /// <summary>The current child's process id.</summary>
    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Lines the broker wrote after it became ready; it runs with MinimumLevel Warning, so these
    /// are warnings and errors of the run itself. Start-up warnings (such as running without a
    /// signing key on loopback) are kept in <see cref="FirstOutput"/> but not counted.
    /// </summary>
    public int OutputLines => Volatile.Read(ref _outputLines);

    /// <summary>The first line counted in <see cref="OutputLines"/>: usually the one that says what went wrong.</summary>
    public string? FirstRunOutput => Volatile.Read(ref _firstRunOutput);

    /// <summary>The first lines the broker wrote: where a start-up failure says what went wrong.</summary>
    public IReadOnlyList<string> FirstOutput
    {
        get
        {
            lock (_outputLock)
            {
                return [.. _firstOutput];
            }
        }
    }

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

    public static async Task<BrokerProcess> StartAsync(
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

        var dataDirectory = Directory.CreateTempSubdirectory("topicbroker-bench-").FullName;
        var placeholder = new BrokerTarget(
            new Uri("http://127.0.0.1:0/"),
            new IPEndPoint(IPAddress.Loopback, 0),
            new IPEndPoint(IPAddress.Loopback, 0),
            ProcessId: null,
            Owned: true,
            Arguments: [],
            Dll: Path.GetFullPath(brokerDll),
            AccessToken: accessToken);
        var broker = new BrokerProcess(Path.GetFullPath(brokerDll), configuration, dataDirectory, placeholder);
        try
        {
            await broker.LaunchAsync(httpPort: 0, bridgePort: 0, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        output.WriteLine($"broker: pid {broker.ProcessId}, http {broker.Target.HttpBase}, bridge {broker.Target.BridgeEndPoint}");
        return broker;
    }

    /// <summary>
    /// Stops the broker with SIGKILL (<paramref name="kill"/>) or SIGTERM (a graceful shutdown) and
    /// waits until it has exited; true if it exited within <paramref name="timeout"/>. A SIGTERM that
    /// does not end the process in time is followed by SIGKILL.
    /// </summary>
    public async Task<bool> StopAsync(bool kill, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _ready = false;
        if (_process.HasExited)
        {
            return true;
        }

        if (kill)
        {
            _process.Kill(entireProcessTree: true);
        }
        else if (SendSignal(_process.Id, Sigterm) != 0)
        {
            _process.Kill(entireProcessTree: true);
        }

        using var exitTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        exitTimeout.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(exitTimeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>The exit code of the child that ended last (after <see cref="StopAsync"/>).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the broker again on the same ports and database, and waits until it is ready.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        if (!_process.HasExited)
        {
            throw new InvalidOperationException("The broker is still running; stop it first.");
        }

        _process.Dispose();
        await LaunchAsync(Target.HttpEndPoint.Port, Target.BridgeEndPoint.Port, cancellationToken).ConfigureAwait(false);
    }

    private async Task LaunchAsync(int httpPort, int bridgePort, CancellationToken cancellationToken)
    {
        List<string> arguments =
        [
            $"--Urls=http://127.0.0.1:{httpPort}",
            "--Broker:TcpBridge:Address=127.0.0.1",
            $"--Broker:TcpBridge:Port={bridgePort}",
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
            .. _configuration.ExtraArguments,
        ];

        var startInfo = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(_brokerDll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add(_brokerDll);
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // A launch profile or an inherited ASPNETCORE_URLS must not move the broker elsewhere.
        startInfo.Environment.Remove("ASPNETCORE_URLS");
        startInfo.Environment.Remove("DOTNET_URLS");

        // The generator's own socket tuning must not leak into the broker under test.
        startInfo.Environment.Remove(BenchProgram.InlineCompletionsVariable);

        _httpPort = NewPortSource();
        _bridgePort = NewPortSource();
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        if (!process.Start())
        {
            process.Dispose();
            throw new BenchSetupException("Could not start 'dotnet' for the broker.");
        }

        _process = process;
        process.OutputDataReceived += (_, e) => OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => OnOutput(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var ports = await WaitForPortsAsync(cancellationToken).ConfigureAwait(false);
        Target = Target with
        {
            HttpBase = new Uri($"http://127.0.0.1:{ports.Http}/"),
            HttpEndPoint = new IPEndPoint(IPAddress.Loopback, ports.Http),
            BridgeEndPoint = new IPEndPoint(IPAddress.Loopback, ports.Bridge),
            ProcessId = process.Id,
            // The results record the arguments; a signing key must not end up in a file.
            Arguments = [.. arguments.Select(a => a.Contains("SigningKey=", StringComparison.OrdinalIgnoreCase) ? a[..(a.IndexOf('=') + 1)] + "***" : a)],
        };
        await WaitUntilReadyAsync(_configuration.ReadinessTopic, cancellationToken).ConfigureAwait(false);
    }

    private async Task<(int Http, int Bridge)> WaitForPortsAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_readinessTimeout);
        var exited = _process.WaitForExitAsync(timeout.Token);
        var ports = Task.WhenAll(_httpPort.Task, _bridgePort.Task);
        try
        {
            await Task.WhenAny(ports, exited).WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BenchSetupException(
                $"The broker did not say where it listens within {s_readinessTimeout.TotalSeconds:0} s. Its output began:{Environment.NewLine}" +
                string.Join(Environment.NewLine, FirstOutput));
        }

        if (!ports.IsCompletedSuccessfully)
        {
            // Also waits for the redirected output to reach its end, so the message is complete.
            await exited.ConfigureAwait(false);
            throw new BenchSetupException(
                $"The broker exited with code {_process.ExitCode} during start-up. Its output began:{Environment.NewLine}" +
                string.Join(Environment.NewLine, FirstOutput) + Environment.NewLine + "and ended:" + Environment.NewLine +
                string.Join(Environment.NewLine, LastOutput.TakeLast(10)));
        }

        return (await _httpPort.Task.ConfigureAwait(false), await _bridgePort.Task.ConfigureAwait(false));
    }

    private static TaskCompletionSource<int> NewPortSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        if (_process is null)
        {
            TryDeleteDataDirectory();
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var exitTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(exitTimeout.Token).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // The process already exited and was reaped.
        }
        catch (OperationCanceledException)
        {
            // Killing did not finish within the bound; nothing more a client can do.
        }
        finally
        {
            _process.Dispose();
            TryDeleteDataDirectory();
        }
    }

    private async Task WaitUntilReadyAsync(string readinessTopic, CancellationToken cancellationToken)
    {
        // A generous per-probe timeout: a probe abandoned while a starting broker on a loaded
        // machine is still queueing it makes the broker log the aborted request as an error (a
        // 500 from the request log) after the run has started, which would count as a problem.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        if (Target.AccessToken is { } token)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        var probe = new Uri(Target.HttpBase, $"api/topics/{Uri.EscapeDataString(readinessTopic)}");
        var deadline = Stopwatch.GetTimestamp() + (long)(s_readinessTimeout.TotalSeconds * Stopwatch.Frequency);
        string lastFailure = "no answer yet";
        while (Stopwatch.GetTimestamp() < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                // Also waits for the redirected output to reach its end, so the message is complete.
                await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                throw new BenchSetupException(
                    $"The broker exited with code {_process.ExitCode} during start-up. Its output began:{Environment.NewLine}" +
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

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            return;
        }

        // The broker runs with MinimumLevel Warning, so every line it writes during the run is
        // worth a look.
        if (HttpListening().Match(line) is { Success: true } http)
        {
            _httpPort.TrySetResult(int.Parse(http.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
        else if (BridgeListening().Match(line) is { Success: true } bridge)
        {
            _bridgePort.TrySetResult(int.Parse(bridge.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }

        if (line.Length > 0 && _ready && !InformationLine().IsMatch(line))
        {
            Interlocked.Increment(ref _outputLines);
            Interlocked.CompareExchange(ref _firstRunOutput, line, null);
        }

        lock (_outputLock)
        {
            if (_firstOutput.Count < KeptFirstLines)
            {
                _firstOutput.Add(line);
            }

            _lastOutput.Enqueue(line);
            while (_lastOutput.Count > KeptOutputLines)
            {
                _lastOutput.Dequeue();
            }
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

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    [GeneratedRegex(@"Now listening on: http://127\.0\.0\.1:(\d+)")]
    private static partial Regex HttpListening();

    [GeneratedRegex(@"TCP bridge listening on 127\.0\.0\.1:(\d+)")]
    private static partial Regex BridgeListening();

    /// <summary>Lines at Information are the lifetime and listening lines asked for above, not problems.</summary>
    [GeneratedRegex(@"^\[\d\d:\d\d:\d\d INF\]")]
    private static partial Regex InformationLine();
}

/// <summary>What a scenario needs from a broker it starts.</summary>
internal sealed record BrokerConfiguration(
    string ReadinessTopic,
    IReadOnlyList<string> ExtraArguments);
