using TopicBroker.Tests.Samples;

namespace TopicBroker.Tests.Sites;

/// <summary>The sample dashboard at a head office, one restaurant per page with <c>?site=</c> (README "Restaurants and head office").</summary>
public sealed class HeadOfficeDashboardTests
{
    private static Task<BrokerHost> StartRestaurantAsync(BrokerHost headOffice, string site) =>
        BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:Upstream:Url"] = headOffice.HttpUri.ToString(),
            ["Broker:Upstream:Site"] = site,
        });

    [Test]
    public async Task Dashboard_WithSite_ShowsThatRestaurantsFloorOnly()
    {
        await using var headOffice = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:Sites:Enabled"] = "true" });
        await using var siteA = await StartRestaurantAsync(headOffice, "site-a");
        await using var siteB = await StartRestaurantAsync(headOffice, "site-b");
        await using var context = await BrowserFixture.NewContextAsync();
        var pageA = await context.NewPageAsync();
        await pageA.GotoAsync(new Uri(headOffice.HttpUri, "/?site=site-a").ToString());
        var pageB = await context.NewPageAsync();
        await pageB.GotoAsync(new Uri(headOffice.HttpUri, "/?site=site-b").ToString());
        var dashboardA = new DashboardPage(pageA);
        var dashboardB = new DashboardPage(pageB);
        await PageExpect.TextAsync(dashboardA.Status("robots"), "live");
        await PageExpect.TextAsync(dashboardB.Status("tables"), "live");

        await siteA.PublishAsync("robots", "robot-1", """{"x":1,"y":1,"battery":90,"state":"idle"}""");
        await siteA.PublishAsync("tables", "T1", """{"state":"seated","seats":4,"x":2,"y":6}""");
        await siteB.PublishAsync("robots", "robot-7", """{"x":3,"y":2,"battery":40,"state":"delivering","table":"T2"}""");

        await dashboardA.ExpectRobotAsync("robot-1", "idle", "90%", "—");
        await PageExpect.AttributeAsync(dashboardA.Table("T1"), "data-state", "seated");
        await dashboardB.ExpectRobotAsync("robot-7", "delivering", "40%", "T2");
        await PageExpect.TextsAsync(dashboardA.RobotNames, "robot-1");
        await PageExpect.TextsAsync(dashboardB.RobotNames, "robot-7");
        Assert.That(await pageA.TitleAsync(), Does.StartWith("site-a"));
    }
}
