namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// The README promises two commands on a fresh machine: <c>dotnet test</c> must bring the real
/// servers the tests drive (Chromium, PostgreSQL, Redis, nginx) itself. They come from Debian's
/// packages (there is no browser or server download here); a test that needs one calls
/// <see cref="Require"/> with the file it runs and the package that ships it. Installing needs
/// root (or password-less sudo); without it the test fails with the command to run.
/// </summary>
internal static class SystemPackages
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static bool s_updated;

    /// <summary>Makes sure <paramref name="path"/> exists, installing <paramref name="package"/> with apt-get if not.</summary>
    public static async Task RequireAsync(string path, string package)
    {
        if (File.Exists(path))
        {
            return;
        }

        await Gate.WaitAsync();
        try
        {
            if (File.Exists(path))
            {
                return;
            }

            var prefix = Environment.UserName == "root" ? [] : new[] { "sudo", "-n" };
            if (!s_updated)
            {
                await RunAsync([.. prefix, "apt-get", "update", "-qq"], package);
                s_updated = true;
            }

            // Another apt-get (an engineer's, or .ci/run's) may hold dpkg's lock: wait for it rather than fail.
            await RunAsync([.. prefix, "apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends", package], package);
            Assert.That(File.Exists(path), Is.True, $"apt-get installed {package} but {path} is still missing");
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task RunAsync(string[] command, string package)
    {
        var start = ServerProcess.CreateStartInfo(command[0], command.Skip(1));
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        CommandResult result;
        try
        {
            result = await CommandRun.RunAsync(start, TimeSpan.FromMinutes(10));
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Assert.Fail($"{package} is missing and '{command[0]}' could not run ({ex.Message}): apt-get install {package}");
            return;
        }

        if (result.ExitCode != 0)
        {
            Assert.Fail($"'{string.Join(' ', command)}' failed ({result.ExitCode}) installing {package}:\n{result.Output}");
        }
    }
}
