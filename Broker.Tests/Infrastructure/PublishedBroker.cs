namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// The broker as a user deploys it: <c>dotnet publish Broker -c Release -o &lt;dir&gt;</c> (the
/// README's "Deploy" command), run once per test run into a temp folder that the run deletes at
/// its end. Tests start <see cref="Dll"/> with <see cref="BrokerProcess.StartPublishedAsync"/>.
/// </summary>
internal static class PublishedBroker
{
    private static readonly Lazy<Task<string>> Published = new(PublishAsync);
    private static string? s_directory;

    /// <summary>The repository this test run was built from (the folder holding TopicBroker.sln).</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The published folder (published on first use).</summary>
    public static Task<string> DirectoryAsync() => Published.Value;

    public static async Task<string> DllAsync() => Path.Combine(await DirectoryAsync(), "TopicBroker.dll");

    private static async Task<string> PublishAsync()
    {
        var output = Directory.CreateTempSubdirectory("topicbroker-published-").FullName;
        s_directory = output;
        // No MSBuild node stays behind once the test run ends.
        var info = ServerProcess.CreateStartInfo("dotnet", ["publish", "Broker", "-c", "Release", "-o", output, "-nologo", "-v", "q", "-nodeReuse:false"], RepositoryRoot);

        // dotnet test passes its own MSBuild settings to the test host; the child build must not inherit them.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(key);
        }

        var publish = await CommandRun.RunAsync(info, TimeSpan.FromMinutes(8));
        if (publish.ExitCode != 0 || !File.Exists(Path.Combine(output, "TopicBroker.dll")))
        {
            throw new InvalidOperationException($"dotnet publish Broker failed ({publish.ExitCode}):\n{publish.Output}");
        }

        return output;
    }

    /// <summary>Deletes the published folder (called by RunTeardown).</summary>
    internal static void Delete()
    {
        if (s_directory is not null && Directory.Exists(s_directory))
        {
            Directory.Delete(s_directory, recursive: true);
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TopicBroker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("TopicBroker.sln not found above " + AppContext.BaseDirectory);
    }
}
