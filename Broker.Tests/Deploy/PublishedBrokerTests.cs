using System.Net;
using System.Text.RegularExpressions;

namespace TopicBroker.Tests.Deploy;

/// <summary>
/// README "Deploy": <c>dotnet publish Broker -c Release -o &lt;dir&gt;</c>, then <c>dotnet &lt;dir&gt;/TopicBroker.dll</c>
/// started from a folder far from the repository serves every page, with its database beside the app.
/// </summary>
public sealed partial class PublishedBrokerTests
{
    [Test, CancelAfter(600_000)]
    public async Task PublishedBroker_StartedFromAnotherFolder_ServesThePages_AndKeepsItsDatabaseBesideTheApp()
    {
        var dll = await PublishedBroker.DllAsync();
        var elsewhere = Directory.CreateTempSubdirectory("topicbroker-cwd-").FullName;
        try
        {
            await using (var broker = await BrokerProcess.StartPublishedAsync(dll, elsewhere))
            {
                using var http = new HttpClient { BaseAddress = broker.HttpUri, Timeout = TaskTimeouts.Default };
                var web = Path.Combine(PublishedBroker.RepositoryRoot, "samples", "web");

                Assert.That(await GetAsync(http, "/", "text/html"), Is.EqualTo(await File.ReadAllTextAsync(Path.Combine(web, "index.html"))), "dashboard at /");
                Assert.That(await GetAsync(http, "/kitchen.html", "text/html"), Is.EqualTo(await File.ReadAllTextAsync(Path.Combine(web, "kitchen.html"))));

                // The client module, wherever the dashboard imports it from.
                var dashboard = await GetAsync(http, "/dashboard.js", "text/javascript");
                var module = ClientImport().Match(dashboard);
                Assert.That(module.Success, Is.True, "dashboard.js imports TopicClient");
                var client = await GetAsync(http, new Uri(new Uri(broker.HttpUri, "/dashboard.js"), module.Groups[1].Value).AbsolutePath, "text/javascript");
                Assert.That(client, Does.Contain("export class TopicClient"));

                Assert.That(await GetAsync(http, "/ops", "text/html"), Does.Contain("ops.js"), "the operations page");
            }

            var app = await PublishedBroker.DirectoryAsync();
            Assert.That(File.Exists(Path.Combine(app, "data", "topicbroker.db")), Is.True, "the default database is data/topicbroker.db beside the app");
            Assert.That(Directory.EnumerateFileSystemEntries(elsewhere), Is.Empty, "nothing is written to the working directory");
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    private static async Task<string> GetAsync(HttpClient http, string path, string mediaType)
    {
        using var response = await http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), $"GET {path}: {body}");
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo(mediaType), $"GET {path}");
        return body;
    }

    [GeneratedRegex("""import\s*\{[^}]*\bTopicClient\b[^}]*\}\s*from\s*"([^"]+)"\s*;""")]
    private static partial Regex ClientImport();
}
