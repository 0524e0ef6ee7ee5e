namespace TopicBroker.Hosting;

/// <summary>
/// The sample pages (dashboard at <c>/</c>, kitchen display at <c>/kitchen.html</c>) served as
/// static files so a new user sees them right after <c>dotnet run --project Broker</c>.
/// </summary>
public sealed class SamplesOptions
{
    public const string SectionName = "Broker:Samples";

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The folder served. Relative paths are tried against the current directory and then upwards
    /// from the app's folder, so both the repository root and <c>dotnet run --project Broker</c> find
    /// <c>samples/web</c>.
    /// </summary>
    public string Path { get; set; } = System.IO.Path.Combine("samples", "web");

    /// <summary>The JavaScript client's module folder, served at <c>/lib</c> beside the pages.</summary>
    internal static readonly string ClientLibraryPath = System.IO.Path.Combine("clients", "js", "lib");

    internal string? Resolve() => Resolve(Path);

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
