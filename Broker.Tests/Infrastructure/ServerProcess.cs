using System.Diagnostics;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// A real server the tests start (PostgreSQL, Redis): its output kept for failure messages, ready
/// when it prints its ready line, failed when it exits first (a port already taken, say).
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _readyLine;

    private ServerProcess(Process process, string readyLine)
    {
        _process = process;
        _readyLine = readyLine;
    }

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

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <paramref name="command"/>; true once it prints <paramref name="readyLine"/>, false if it exits before.</summary>
    public static async Task<(bool Ready, ServerProcess Server)> StartAsync(string readyLine, params string[] command)
    {
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process, readyLine);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.Exited += (_, _) => server._ready.TrySetException(new InvalidOperationException("exited"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server._ready.Task.DefaultTimeout(TimeSpan.FromSeconds(60));
            return (true, server);
        }
        catch (InvalidOperationException)
        {
            await process.WaitForExitAsync().DefaultTimeout();
            return (false, server);
        }
    }

    /// <summary>Sends a signal to <paramref name="pid"/> (the server's own process, not a wrapper).</summary>
    public static void Signal(int pid, int signal) => Assert.That(Kill(pid, signal), Is.Zero, $"kill({pid}, {signal})");

    public Task WaitForExitAsync() => _process.WaitForExitAsync().DefaultTimeout(TimeSpan.FromSeconds(60));

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

        if (line.Contains(_readyLine, StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
