using System.Diagnostics;

namespace TopicBroker.Testing;

/// <summary>
/// A server run as a child process (the broker, PostgreSQL, Redis, nginx): its output drained as
/// it comes, so it never blocks on a full pipe, and kept for failure messages; killed with its
/// process tree on dispose, whatever happened before.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>How long a start waits for the ready line, and a stop for the exit.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    // A long run (the bench) writes without end; the first lines say how it started, the last
    // ones how it ended.
    private const int KeptFirstLines = 200;
    private const int KeptLastLines = 2000;

    private readonly Process _process;
    private readonly Action<string>? _onLine;
    private readonly Lock _outputLock = new();
    private readonly List<string> _firstOutput = [];
    private readonly Queue<string> _lastOutput = new();
    private long _droppedLines;

    private ServerProcess(Process process, Action<string>? onLine)
    {
        _process = process;
        _onLine = onLine;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything it wrote to stdout and stderr (the middle of a very long output left out).</summary>
    public string Output
    {
        get
        {
            lock (_outputLock)
            {
                var elided = _droppedLines > 0 ? [$"... {_droppedLines} lines left out ..."] : Array.Empty<string>();
                return string.Join('\n', _firstOutput.Concat(elided).Concat(_lastOutput));
            }
        }
    }

    /// <summary>The first lines it wrote: where a start-up failure says what went wrong.</summary>
    public IReadOnlyList<string> FirstOutput
    {
        get
        {
            lock (_outputLock)
            {
                return [.. _firstOutput.Take(20)];
            }
        }
    }

    /// <summary>The last lines it wrote.</summary>
    public IReadOnlyList<string> LastOutput
    {
        get
        {
            lock (_outputLock)
            {
                return [.. _firstOutput.Concat(_lastOutput).TakeLast(40)];
            }
        }
    }

    /// <summary>A start of <paramref name="program"/> with its output redirected, no shell.</summary>
    public static ProcessStartInfo CreateStartInfo(string program, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    /// <summary>
    /// Starts <paramref name="info"/> (output redirected); <paramref name="onLine"/> sees each line
    /// of stdout and stderr as it comes, on a thread-pool thread.
    /// </summary>
    public static ServerProcess Start(ProcessStartInfo info, Action<string>? onLine = null)
    {
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process, onLine);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        try
        {
            process.Start();
        }
        catch
        {
            process.Dispose();
            throw;
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>
    /// Starts <paramref name="command"/>; ready once it prints <paramref name="readyLine"/>, not
    /// ready if it exits before (a port already taken, say); throws <see cref="TimeoutException"/>
    /// if it does neither within <see cref="DefaultTimeout"/>.
    /// </summary>
    public static async Task<(bool Ready, ServerProcess Server)> StartAsync(string readyLine, params string[] command)
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = Start(CreateStartInfo(command[0], command.Skip(1)), line =>
        {
            if (line.Contains(readyLine, StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        });
        try
        {
            await Task.WhenAny(ready.Task, server._process.WaitForExitAsync()).WaitAsync(DefaultTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw new TimeoutException($"{command[0]} printed no '{readyLine}' within {DefaultTimeout.TotalSeconds:0} s:\n{server.Output}");
        }

        return (ready.Task.IsCompleted, server);
    }

    /// <summary>As <see cref="StartAsync(string, string[])"/>, throwing with its output if it exits before it is ready.</summary>
    public static async Task<ServerProcess> StartReadyAsync(string readyLine, params string[] command)
    {
        var (ready, server) = await StartAsync(readyLine, command).ConfigureAwait(false);
        if (!ready)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"{command[0]} exited before it was ready:\n{server.Output}");
        }

        return server;
    }

    /// <summary>
    /// For a server that cannot bind port 0 and say which port it got (PostgreSQL, Redis, nginx):
    /// <paramref name="command"/> for a port drawn from [<paramref name="fromPort"/>, <paramref name="toPort"/>),
    /// on another one if it exits before <paramref name="readyLine"/> (the port was taken), up to ten tries.
    /// </summary>
    public static async Task<(int Port, ServerProcess Server)> StartOnFreePortAsync(string readyLine, int fromPort, int toPort, Func<int, string[]> command)
    {
        const int Attempts = 10;
        for (var attempt = 1; ; attempt++)
        {
            var port = Random.Shared.Next(fromPort, toPort);
            var arguments = command(port);
            var (ready, server) = await StartAsync(readyLine, arguments).ConfigureAwait(false);
            if (ready)
            {
                return (port, server);
            }

            await server.DisposeAsync().ConfigureAwait(false);
            if (attempt == Attempts)
            {
                throw new InvalidOperationException($"{arguments[0]} did not start on any of {Attempts} ports; the last try wrote:\n{server.Output}");
            }
        }
    }

    /// <summary>Sends <paramref name="signal"/> (see <see cref="PosixSignals"/>) to this process.</summary>
    public bool TrySignal(int signal) => PosixSignals.TrySend(_process.Id, signal);

    /// <summary>Waits until it has exited and its output has been read to the end.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>As <see cref="WaitForExitAsync(CancellationToken)"/>, throwing <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    /// <summary>SIGKILL to the process and its children, and waits for the exit.</summary>
    public async Task KillAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It had exited already.
        }

        await WaitForExitAsync(DefaultTimeout).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await KillAsync().ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already exited and reaped.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_outputLock)
        {
            if (_firstOutput.Count < KeptFirstLines)
            {
                _firstOutput.Add(line);
            }
            else
            {
                _lastOutput.Enqueue(line);
                if (_lastOutput.Count > KeptLastLines)
                {
                    _lastOutput.Dequeue();
                    _droppedLines++;
                }
            }
        }

        _onLine?.Invoke(line);
    }
}
