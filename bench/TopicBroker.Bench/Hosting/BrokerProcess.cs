using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace TopicBroker.Bench.Hosting;

/// <summary>
/// Runs the broker as a child process (<c>dotnet TopicBroker.dll</c>) on free loopback ports with
/// a throw-away database, waits until it answers HTTP, and kills it on dispose, whatever
/// happened before (exception, Ctrl+C). Its console output is drained so it never blocks on a
/// full pipe; the last lines are kept for error messages.
/// </summary>
internal sealed class BrokerProcess : IAsyncDisposable
{
    private const int KeptOutputLines = 40;
    private const int KeptFirstLines = 15;
    private static readonly TimeSpan s_readinessTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly string _dataDirectory;
    private readonly Queue<string> _lastOutput = new();
    private readonly List<string> _firstOutput = [];
    private readonly Lock _outputLock = new();
    private int _outputLines;
    private string? _firstRunOutput;
    private volatile bool _ready;

    private BrokerProcess(Process process, string dataDirectory, BrokerTarget target)
    {
        _process = process;
        _dataDirectory = dataDirectory;
        Target = target;
    }

    public BrokerTarget Target { get; }

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

        var httpPort = FreePorts.Pick();
        var bridgePort = FreePorts.Pick();
        while (bridgePort == httpPort)
        {
            bridgePort = FreePorts.Pick();
        }

        var dataDirectory = Directory.CreateTempSubdirectory("topicbroker-bench-").FullName;
        List<string> arguments =
        [
            $"--Urls=http://127.0.0.1:{httpPort}",
            "--Broker:TcpBridge:Address=127.0.0.1",
            $"--Broker:TcpBridge:Port={bridgePort}",
            $"--Broker:Database={Path.Combine(dataDirectory, "bench.db")}",
            // Keep-alive traffic would be noise in every measurement; the scenarios are shorter
            // than these intervals (protocol.md "Frames", keep-alive).
            "--Broker:PingInterval=00:10:00",
            "--Broker:PongTimeout=01:00:00",
            "--Broker:MaxConnectionsPerTopic=100000",
            "--Serilog:MinimumLevel:Default=Warning",
            // appsettings.json lifts the host's lifetime messages to Information; silence them
            // too, so that everything the broker prints is a warning or an error worth reporting.
            "--Serilog:MinimumLevel:Override:Microsoft.Hosting.Lifetime=Warning",
            .. configuration.ExtraArguments,
        ];

        var startInfo = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(brokerDll))!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add(Path.GetFullPath(brokerDll));
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // A launch profile or an inherited ASPNETCORE_URLS must not move the broker elsewhere.
        startInfo.Environment.Remove("ASPNETCORE_URLS");
        startInfo.Environment.Remove("DOTNET_URLS");

        // The generator's own socket tuning must not leak into the broker under test.
        startInfo.Environment.Remove(BenchProgram.InlineCompletionsVariable);

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var target = new BrokerTarget(
            new Uri($"http://127.0.0.1:{httpPort}/"),
            new IPEndPoint(IPAddress.Loopback, httpPort),
            new IPEndPoint(IPAddress.Loopback, bridgePort),
            ProcessId: null,
            Owned: true,
            // The results record the arguments; a signing key must not end up in a file.
            Arguments: [.. arguments.Select(a => a.Contains("SigningKey=", StringComparison.OrdinalIgnoreCase) ? a[..(a.IndexOf('=') + 1)] + "***" : a)],
            Dll: Path.GetFullPath(brokerDll),
            AccessToken: accessToken);

        if (!process.Start())
        {
            process.Dispose();
            throw new BenchSetupException("Could not start 'dotnet' for the broker.");
        }

        var broker = new BrokerProcess(process, dataDirectory, target with { ProcessId = process.Id });
        process.OutputDataReceived += (_, e) => broker.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => broker.OnOutput(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            await broker.WaitUntilReadyAsync(configuration.ReadinessTopic, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        output.WriteLine($"broker: pid {process.Id}, http {target.HttpBase}, bridge {target.BridgeEndPoint}");
        return broker;
    }

    public async ValueTask DisposeAsync()
    {
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
        if (line.Length > 0 && _ready)
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
}

/// <summary>What a scenario needs from a broker it starts.</summary>
internal sealed record BrokerConfiguration(
    string ReadinessTopic,
    IReadOnlyList<string> ExtraArguments);
