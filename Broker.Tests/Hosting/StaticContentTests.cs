using System.Net;
using Microsoft.Extensions.Options;

namespace TopicBroker.Tests.Hosting;

/// <summary>docs/operations.md "Configuration", <c>Broker:Samples</c>: pages built in, a folder on disk when configured.</summary>
public sealed class StaticContentTests
{
    [Test]
    public async Task NoFolderConfigured_ServesThePagesBuiltIntoTheBroker()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();

        var index = await http.GetStringAsync("/").DefaultTimeout();

        Assert.That(index, Is.EqualTo(await File.ReadAllTextAsync(Path.Combine(PublishedBroker.RepositoryRoot, "samples", "web", "index.html"))));
    }

    [Test]
    public async Task FolderConfigured_ServesThatFolderInstead()
    {
        var folder = Directory.CreateTempSubdirectory("topicbroker-pages-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "index.html"), "<p>our own board</p>");
            await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:Samples:Path"] = folder });
            using var http = broker.CreateHttpClient();

            Assert.That(await http.GetStringAsync("/").DefaultTimeout(), Is.EqualTo("<p>our own board</p>"));
            Assert.That((await http.GetAsync("/kitchen.html").DefaultTimeout()).StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "the folder replaces the built-in pages");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void MissingFolder_StopsStartupNamingTheKey()
    {
        var ex = Assert.ThrowsAsync<OptionsValidationException>(() =>
            BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:Samples:Path"] = "no/such/pages" }));

        Assert.That(ex!.Message, Does.Contain("Broker:Samples:Path 'no/such/pages' was not found"));
    }

    [Test]
    public async Task Disabled_ServesNoPages()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:Samples:Enabled"] = "false" });
        using var http = broker.CreateHttpClient();

        Assert.That((await http.GetAsync("/").DefaultTimeout()).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}
