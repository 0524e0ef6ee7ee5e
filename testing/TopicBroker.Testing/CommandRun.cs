using System.Diagnostics;

namespace TopicBroker.Testing;

/// <summary>What a command that ran to its end wrote, and its exit code.</summary>
public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Both streams, for a failure message.</summary>
    public string Output => StandardOutput + StandardError;
}

/// <summary>Runs a command to its end (initdb, npm ci, dotnet publish, apt-get), its output read as it comes.</summary>
public static class CommandRun
{
    /// <summary>
    /// Runs <paramref name="info"/> (its output redirected here) to its end; after
    /// <paramref name="timeout"/> it is killed and a <see cref="TimeoutException"/> carries what it wrote.
    /// </summary>
    public static async Task<CommandResult> RunAsync(ProcessStartInfo info, TimeSpan timeout)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"'{info.FileName}' did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var expiry = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(expiry.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().ConfigureAwait(false);
            throw new TimeoutException(
                $"'{info.FileName} {string.Join(' ', info.ArgumentList)}' did not end within {timeout.TotalSeconds:0} s:\n" +
                await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false));
        }

        return new CommandResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>Runs <paramref name="command"/> (the program, then its arguments) to its end.</summary>
    public static Task<CommandResult> RunAsync(TimeSpan timeout, params string[] command) =>
        RunAsync(ServerProcess.CreateStartInfo(command[0], command.Skip(1)), timeout);
}
