using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace TopicBroker.Tests.Sites;

/// <summary>/ops shows replication per site and topic on both sides (docs/operations.md "Operations page").</summary>
public sealed class ReplicationOpsPageTests
{
    private static readonly float ExpectTimeoutMs = (float)TaskTimeouts.Default.TotalMilliseconds;

    private static async Task ExpectRowAsync(BrokerHost broker, string side, string site, string seq)
    {
        var context = await BrowserFixture.NewContextAsync();
        await using var _ = context;
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(broker.HttpUri, "/ops").ToString());
        var row = page.Locator("#replication-rows tr").Filter(new LocatorFilterOptions { HasText = "orders" });
        await Expect(row).ToHaveTextAsync($"{side}{site}ordersup{seq}{seq}{seq}0", new LocatorAssertionsToHaveTextOptions { Timeout = ExpectTimeoutMs });
    }

    [Test]
    public async Task OpsPage_ShowsForwardedAndAcknowledgedSeqs_AtTheHeadOfficeAndTheRestaurant()
    {
        await using var headOffice = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:Sites:Enabled"] = "true" });
        await using var restaurant = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Upstream:Url"] = headOffice.HttpUri.ToString(),
            ["Broker:Upstream:Site"] = "site-1",
            ["Broker:Upstream:Topics:0"] = "orders",
            ["Broker:Upstream:ReportInterval"] = "00:00:00.100",
        });
        await using var screen = await headOffice.ConnectAsync("site-1/orders");
        await restaurant.PublishAsync("orders", "o1", """{"n":1}""");
        await restaurant.PublishAsync("orders", "o2", """{"n":2}""");
        Assert.That((await screen.ReceiveFrameAsync("update")).GetProperty("seq").GetInt64(), Is.EqualTo(1));

        await ExpectRowAsync(headOffice, "site", "site-1", "2");
        await ExpectRowAsync(restaurant, "upstream", "site-1", "2");
    }
}
