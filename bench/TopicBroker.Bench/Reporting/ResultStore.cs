using System.Globalization;
using System.Text.Json;

namespace TopicBroker.Bench.Reporting;

/// <summary>Writes results under one folder (default bench/results), one file per run, named by scenario and UTC time.</summary>
internal sealed class ResultStore(string directory)
{
    public string Directory { get; } = Path.GetFullPath(directory);

    public string PathFor(string name, DateTimeOffset startedUtc, string extension) =>
        Path.Combine(Directory, $"{name}-{startedUtc.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}.{extension}");

    public async Task<string> WriteAsync(ScenarioResult result, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = PathFor(result.Scenario, result.StartedUtc, "json");
        await using var stream = File.Create(path);
        await JsonSerializer.SerializeAsync(stream, result with { Files = [.. result.Files, path] }, BenchJsonContext.Default.ScenarioResult, cancellationToken)
            .ConfigureAwait(false);
        return path;
    }

    /// <summary>The results of a command that ran several scenarios (<c>all</c>, a comparison), as <c>&lt;name&gt;-*.json</c>.</summary>
    public async Task<string> WriteAsync(AllResult result, string name, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = PathFor(name, result.StartedUtc, "json");
        await using var stream = File.Create(path);
        await JsonSerializer.SerializeAsync(stream, result, BenchJsonContext.Default.AllResult, cancellationToken).ConfigureAwait(false);
        return path;
    }

    public async Task<string> WriteTextAsync(string name, DateTimeOffset startedUtc, string extension, string content, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = PathFor(name, startedUtc, extension);
        await File.WriteAllTextAsync(path, content, cancellationToken).ConfigureAwait(false);
        return path;
    }
}
