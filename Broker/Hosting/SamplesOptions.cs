namespace TopicBroker.Hosting;

/// <summary>
/// The sample pages (dashboard at <c>/</c>, kitchen display at <c>/kitchen.html</c>) served as
/// static files so a new user sees them right after <c>dotnet run --project Broker</c>, and a
/// published broker serves them from wherever it is started (<see cref="StaticContent"/>).
/// </summary>
public sealed class SamplesOptions
{
    public const string SectionName = "Broker:Samples";

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// A folder served instead of the pages built into the assembly (to change them without a
    /// rebuild, or to serve pages of your own); none by default. Relative paths are tried against
    /// the current directory and then upwards from the app's folder, so both the repository root
    /// and <c>dotnet run --project Broker</c> find <c>samples/web</c>.
    /// </summary>
    public string? Path { get; set; }

    internal static string? Resolve(string path)
    {
        if (System.IO.Path.IsPathRooted(path))
        {
            return Directory.Exists(path) ? path : null;
        }

        var candidate = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(candidate))
        {
            return candidate;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            candidate = System.IO.Path.Combine(dir.FullName, path);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
