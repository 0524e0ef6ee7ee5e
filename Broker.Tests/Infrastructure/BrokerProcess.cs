using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// The broker as a child process (<c>dotnet TopicBroker.dll</c>), for what an in-process host
/// cannot show: a kill -9, or a real SIGTERM. Ready once its log says where it listens.
/// </summary>
internal sealed partial class BrokerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _http = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<IPEndPoint> _bridge = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private BrokerProcess(Process process) => _process = process;

    public Uri HttpUri { get; private set; } = null!;

    public IPEndPoint BridgeEndPoint { get; private set; } = null!;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>
    /// <c>dotnet TopicBroker.dll</c> on loopback port 0, its database in <paramref name="directory"/>,
    /// output redirected; <paramref name="extraArgs"/> are further <c>--Key=Value</c> settings.
    /// </summary>
    public static ProcessStartInfo CreateStartInfo(string directory, IEnumerable<string> extraArgs)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var arg in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "TopicBroker.dll"), "--Urls=http://127.0.0.1:0",
                     $"--Broker:Database={Path.Combine(directory, "broker.db")}", "--Broker:TcpBridge:Port=0",
                 }.Concat(extraArgs))
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    public static Task<BrokerProcess> StartAsync(string directory, params string[] extraArgs) =>
        LaunchAsync(CreateStartInfo(directory, ["--Serilog:MinimumLevel:Default=Information", .. extraArgs]));

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
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in new[] { dll, "--Urls=http://127.0.0.1:0", "--Broker:TcpBridge:Port=0", "--Serilog:MinimumLevel:Default=Information" }.Concat(extraArgs))
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return LaunchAsync(info);
    }

    private static async Task<BrokerProcess> LaunchAsync(ProcessStartInfo info)
    {
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var broker = new BrokerProcess(process);
        process.OutputDataReceived += (_, e) => broker.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => broker.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            broker.HttpUri = await broker._http.Task.DefaultTimeout(TimeSpan.FromSeconds(60));
            broker.BridgeEndPoint = await broker._bridge.Task.DefaultTimeout(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            await broker.DisposeAsync();
            Assert.Fail("the broker process did not start:\n" + broker.Output);
        }

        return broker;
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().DefaultTimeout();
    }

    /// <summary>SIGTERM, as a service manager stops it; returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        Assert.That(SendSigterm(_process.Id), Is.Zero, "kill(SIGTERM)");
        await _process.WaitForExitAsync().DefaultTimeout(TimeSpan.FromSeconds(60));
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().DefaultTimeout();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }

        if (HttpListening().Match(line) is { Success: true } http)
        {
            _http.TrySetResult(new Uri(http.Groups[1].Value));
        }

        if (BridgeListening().Match(line) is { Success: true } bridge)
        {
            _bridge.TrySetResult(IPEndPoint.Parse(bridge.Groups[1].Value));
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static int SendSigterm(int pid) => Kill(pid, 15);

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex HttpListening();

    [GeneratedRegex(@"TCP bridge listening on (\S+)")]
    private static partial Regex BridgeListening();
}
