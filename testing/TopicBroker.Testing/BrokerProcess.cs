using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace TopicBroker.Testing;

/// <summary>
/// The broker as a child process (<c>dotnet TopicBroker.dll</c>), for what an in-process host
/// cannot show: a kill -9, a real SIGTERM, a restart on the same ports and database, a published
/// build. It binds port 0 for HTTP and the bridge and its log says which ports it got (no
/// bind-then-release race): it is started once it has said both, so its log level must let the
/// lifetime and bridge-listener Information lines through.
/// </summary>
public sealed partial class BrokerProcess : IAsyncDisposable
{
    private readonly ProcessStartInfo _startInfo;
    private readonly Action<string>? _onLine;
    private ServerProcess _server = null!;
    private TaskCompletionSource<Uri> _http = NewSource<Uri>();
    private TaskCompletionSource<IPEndPoint> _bridge = NewSource<IPEndPoint>();
    private bool _portsPinned;

    private BrokerProcess(ProcessStartInfo startInfo, Action<string>? onLine)
    {
        _startInfo = startInfo;
        _onLine = onLine;
    }

    /// <summary>The broker built beside the calling assembly (Broker.Tests' output holds TopicBroker.dll).</summary>
    public static string BuiltBrokerDll => Path.Combine(AppContext.BaseDirectory, "TopicBroker.dll");

    /// <summary>Where it listens for HTTP and WebSockets (<c>http://127.0.0.1:port/</c>), the same across restarts.</summary>
    public Uri HttpUri { get; private set; } = null!;

    /// <summary>Where its TCP bridge listens, the same across restarts.</summary>
    public IPEndPoint BridgeEndPoint { get; private set; } = null!;

    /// <summary>The current child's process id.</summary>
    public int ProcessId => _server.Id;

    public bool HasExited => _server.HasExited;

    /// <summary>The exit code of the child that ended last.</summary>
    public int ExitCode => _server.ExitCode;

    /// <summary>What the current child wrote (stdout and stderr), for failure messages.</summary>
    public string Output => _server.Output;

    /// <inheritdoc cref="ServerProcess.FirstOutput"/>
    public IReadOnlyList<string> FirstOutput => _server.FirstOutput;

    /// <inheritdoc cref="ServerProcess.LastOutput"/>
    public IReadOnlyList<string> LastOutput => _server.LastOutput;

    /// <summary>
    /// <c>dotnet TopicBroker.dll</c> (the build beside the caller) on loopback port 0, its database in
    /// <paramref name="directory"/>, output redirected; <paramref name="extraArgs"/> are further
    /// <c>--Key=Value</c> settings (a later one wins).
    /// </summary>
    public static ProcessStartInfo CreateStartInfo(string directory, IEnumerable<string> extraArgs) =>
        CreateStartInfo(BuiltBrokerDll, directory,
            [$"--Broker:Database={Path.Combine(directory, "broker.db")}", .. extraArgs]);

    /// <summary>
    /// <c>dotnet <paramref name="dll"/></c> started in <paramref name="workingDirectory"/>, HTTP and
    /// the bridge on loopback port 0, then <paramref name="settings"/> (<c>--Key=Value</c>; a later
    /// one wins), output redirected.
    /// </summary>
    public static ProcessStartInfo CreateStartInfo(string dll, string workingDirectory, IEnumerable<string> settings)
    {
        var info = ServerProcess.CreateStartInfo("dotnet",
            [dll, "--Urls=http://127.0.0.1:0", "--Broker:TcpBridge:Port=0", .. settings], workingDirectory);

        // A launch profile or an inherited ASPNETCORE_URLS must not move the broker elsewhere.
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment.Remove("DOTNET_URLS");
        return info;
    }

    /// <summary>The built broker with its database in <paramref name="directory"/>, logging at Information.</summary>
    public static Task<BrokerProcess> StartAsync(string directory, params string[] extraArgs) =>
        StartAsync(CreateStartInfo(directory, ["--Serilog:MinimumLevel:Default=Information", .. extraArgs]));

    /// <summary>
    /// <c>dotnet <paramref name="dll"/></c> (a published broker) started in <paramref name="workingDirectory"/>
    /// on loopback port 0, with its own defaults otherwise (its database beside the app);
    /// <paramref name="extraArgs"/> are further <c>--Key=Value</c> settings.
    /// </summary>
    public static Task<BrokerProcess> StartPublishedAsync(string dll, string workingDirectory, params string[] extraArgs) =>
        StartPublishedAsync(dll, workingDirectory, new Dictionary<string, string>(), extraArgs);

    /// <summary>As above, with <paramref name="environment"/> added to the child's environment (a service manager's <c>Environment=</c>).</summary>
    public static Task<BrokerProcess> StartPublishedAsync(string dll, string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] extraArgs)
    {
        var info = CreateStartInfo(dll, workingDirectory, ["--Serilog:MinimumLevel:Default=Information", .. extraArgs]);
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return StartAsync(info);
    }

    /// <summary>
    /// Starts <paramref name="info"/> (from <see cref="CreateStartInfo(string, string, IEnumerable{string})"/>)
    /// and waits until the broker has said where it listens; <paramref name="onLine"/> sees every
    /// line it writes, across restarts. Throws <see cref="BrokerStartException"/> with its output
    /// if it exits or says nothing within <see cref="ServerProcess.DefaultTimeout"/>.
    /// </summary>
    public static async Task<BrokerProcess> StartAsync(ProcessStartInfo info, Action<string>? onLine = null, CancellationToken cancellationToken = default)
    {
        var broker = new BrokerProcess(info, onLine);
        await broker.LaunchAsync(info, cancellationToken).ConfigureAwait(false);
        return broker;
    }

    /// <summary>Waits until the current child has exited and its output has been read to the end.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _server.WaitForExitAsync(cancellationToken);

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public Task KillAsync() => _server.KillAsync();

    /// <summary>SIGTERM, as a service manager stops it; returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        if (!_server.TrySignal(PosixSignals.Terminate))
        {
            throw new InvalidOperationException($"kill({ProcessId}, SIGTERM) failed");
        }

        await _server.WaitForExitAsync(ServerProcess.DefaultTimeout).ConfigureAwait(false);
        return _server.ExitCode;
    }

    /// <summary>
    /// Stops the broker with SIGKILL (<paramref name="kill"/>) or SIGTERM (a graceful shutdown) and
    /// waits until it has exited; true if it exited within <paramref name="timeout"/>. A SIGTERM that
    /// does not end the process in time is followed by SIGKILL.
    /// </summary>
    public async Task<bool> StopAsync(bool kill, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (_server.HasExited)
        {
            return true;
        }

        if (kill || !_server.TrySignal(PosixSignals.Terminate))
        {
            await _server.KillAsync().ConfigureAwait(false);
            return true;
        }

        using var exitTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        exitTimeout.CancelAfter(timeout);
        try
        {
            await _server.WaitForExitAsync(exitTimeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await _server.KillAsync().ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>
    /// Starts the broker again, after it exited, on the ports it first bound and with the same
    /// settings (so the same database), and waits until it listens.
    /// </summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        if (!_server.HasExited)
        {
            throw new InvalidOperationException("The broker is still running; stop it first.");
        }

        await _server.DisposeAsync().ConfigureAwait(false);
        if (!_portsPinned)
        {
            // A later setting wins: these override the port-0 ones.
            _startInfo.ArgumentList.Add($"--Urls=http://127.0.0.1:{HttpUri.Port}");
            _startInfo.ArgumentList.Add($"--Broker:TcpBridge:Port={BridgeEndPoint.Port}");
            _portsPinned = true;
        }

        await LaunchAsync(_startInfo, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;

    private async Task LaunchAsync(ProcessStartInfo info, CancellationToken cancellationToken)
    {
        _http = NewSource<Uri>();
        _bridge = NewSource<IPEndPoint>();
        _server = ServerProcess.Start(info, OnLine);
        var listening = Task.WhenAll(_http.Task, _bridge.Task);
        try
        {
            await Task.WhenAny(listening, _server.WaitForExitAsync(cancellationToken))
                .WaitAsync(ServerProcess.DefaultTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
            throw new BrokerStartException(
                $"The broker did not say where it listens within {ServerProcess.DefaultTimeout.TotalSeconds:0} s. Its output:\n{_server.Output}");
        }
        catch (OperationCanceledException)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (!listening.IsCompletedSuccessfully)
        {
            var message = cancellationToken.IsCancellationRequested
                ? null
                : $"The broker exited with code {_server.ExitCode} during start-up. Its output:\n{_server.Output}";
            await _server.DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new BrokerStartException(message!);
        }

        HttpUri = await _http.Task.ConfigureAwait(false);
        BridgeEndPoint = await _bridge.Task.ConfigureAwait(false);
    }

    private void OnLine(string line)
    {
        if (HttpListening().Match(line) is { Success: true } http)
        {
            _http.TrySetResult(new Uri(http.Groups[1].Value));
        }
        else if (BridgeListening().Match(line) is { Success: true } bridge)
        {
            _bridge.TrySetResult(IPEndPoint.Parse(bridge.Groups[1].Value));
        }

        _onLine?.Invoke(line);
    }

    private static TaskCompletionSource<T> NewSource<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex HttpListening();

    [GeneratedRegex(@"TCP bridge listening on (\S+)")]
    private static partial Regex BridgeListening();
}
