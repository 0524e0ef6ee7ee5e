namespace TopicBroker.Bench.Hosting;

/// <summary>Where the repository, the broker's build output and the results folder are.</summary>
internal sealed class RepositoryLayout
{
    private const string SolutionFileName = "TopicBroker.sln";

    private RepositoryLayout(string? root) => Root = root;

    /// <summary>The folder holding TopicBroker.sln, or null when the tool runs outside the repository.</summary>
    public string? Root { get; }

    /// <summary>
    /// The broker to start when --broker-dll is not given: the Release build output, except when
    /// this code runs in-process inside a host that has TopicBroker.dll beside it (Broker.Tests),
    /// where that copy is the one built together with the caller.
    /// </summary>
    public string DefaultBrokerDll
    {
        get
        {
            var beside = Path.Combine(AppContext.BaseDirectory, "TopicBroker.dll");
            return File.Exists(beside) && File.Exists(Path.ChangeExtension(beside, ".runtimeconfig.json"))
                ? beside
                : Path.Combine(Root ?? ".", "Broker", "bin", "Release", "net10.0", "TopicBroker.dll");
        }
    }

    public string DefaultResultsDirectory => Path.Combine(Root ?? Directory.GetCurrentDirectory(), "bench", "results");

    /// <summary>The commit checked out (from .git/HEAD, no git process), or null outside a repository.</summary>
    public string? TryReadHeadCommit()
    {
        if (Root is null)
        {
            return null;
        }

        try
        {
            var gitDirectory = Path.Combine(Root, ".git");
            var head = File.ReadAllText(Path.Combine(gitDirectory, "HEAD")).Trim();
            if (!head.StartsWith("ref: ", StringComparison.Ordinal))
            {
                return head;
            }

            var reference = head["ref: ".Length..];
            var loose = Path.Combine(gitDirectory, reference);
            if (File.Exists(loose))
            {
                return File.ReadAllText(loose).Trim();
            }

            var packed = Path.Combine(gitDirectory, "packed-refs");
            return File.Exists(packed)
                ? File.ReadLines(packed).Where(line => line.EndsWith(" " + reference, StringComparison.Ordinal)).Select(line => line[..40]).FirstOrDefault()
                : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static RepositoryLayout Discover()
    {
        // The working directory first (dotnet run from the repository), then the binary's own
        // location (tests calling in-process from Broker.Tests/bin/...).
        return new RepositoryLayout(FindRoot(Directory.GetCurrentDirectory()) ?? FindRoot(AppContext.BaseDirectory));
    }

    private static string? FindRoot(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, SolutionFileName)))
            {
                return directory.FullName;
            }
        }

        return null;
    }
}
