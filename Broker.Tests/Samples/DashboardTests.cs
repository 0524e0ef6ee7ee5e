using System.Text.RegularExpressions;

namespace TopicBroker.Tests.Samples;

/// <summary>The floor dashboard (samples/web/index.html) in real Chromium, served by the real broker.</summary>
public sealed class DashboardTests
{
    [Test]
    public async Task Dashboard_RobotAndTableChangesThroughTheBridge_AreShownAsTheyArrive()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var context = await BrowserFixture.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(broker.HttpUri.ToString());
        var dashboard = new DashboardPage(page);
        await PageExpect.TextAsync(dashboard.Status("robots"), "live");
        await PageExpect.TextAsync(dashboard.Status("tables"), "live");
        await PageExpect.VisibleAsync(page.Locator("#robots-empty"));

        await using var bridge = await broker.ConnectBridgeAsync();
        await bridge.PublishAsync(BridgeLine.Upsert("tables", "T4", """{"state":"seated","seats":4,"x":6.5,"y":6}"""));
        await bridge.PublishAsync(BridgeLine.Upsert("tables", "T9", """{"state":"free","seats":2,"x":6.5,"y":9.75}"""));
        await bridge.PublishAsync(BridgeLine.Upsert("robots", "robot-10", """{"x":6.5,"y":4.1,"battery":86,"state":"delivering","table":"T4"}"""));
        await bridge.PublishAsync(BridgeLine.Upsert("robots", "robot-2", """{"x":2.4,"y":1,"battery":12,"state":"charging"}"""));

        await PageExpect.TextsAsync(dashboard.RobotNames, "robot-2", "robot-10");
        await dashboard.ExpectRobotAsync("robot-10", "delivering", "86%", "T4");
        await dashboard.ExpectRobotAsync("robot-2", "charging", "12%", "—");
        await PageExpect.AttributeAsync(dashboard.Robot("robot-2"), "class", new Regex(@"\blow-battery\b"));
        await PageExpect.AttributeAsync(dashboard.RobotMarker("robot-10"), "style", new Regex(@"translate\(6\.5px, 4\.1px\)"));
        await PageExpect.AttributeAsync(dashboard.Table("T4"), "data-state", "seated");
        await PageExpect.AttributeAsync(dashboard.Table("T4"), "transform", "translate(6.5 6)");
        await dashboard.ExpectTableCountsAsync(free: 1, seated: 1, waiting: 0);
        await PageExpect.HiddenAsync(page.Locator("#robots-empty"));

        await bridge.PublishAsync(BridgeLine.Upsert("robots", "robot-10", """{"x":4.2,"y":4.1,"battery":85,"state":"returning"}"""));
        await bridge.PublishAsync(BridgeLine.Upsert("tables", "T4", """{"state":"waiting","seats":4,"x":6.5,"y":6}"""));
        await bridge.PublishAsync(BridgeLine.Delete("robots", "robot-2"));

        await dashboard.ExpectRobotAsync("robot-10", "returning", "85%", "—");
        await PageExpect.TextsAsync(dashboard.RobotNames, "robot-10");
        await PageExpect.CountAsync(page.Locator("[data-robot-marker='robot-2']"), 0);
        await PageExpect.TextAsync(page.Locator("[data-robot-count]"), "1");
        await PageExpect.AttributeAsync(dashboard.Table("T4"), "data-state", "waiting");
        await dashboard.ExpectTableCountsAsync(free: 1, seated: 0, waiting: 1);
    }

    [Test]
    public async Task Dashboard_BrokerRestarts_PageResumesWithSinceAndShowsWhatItMissed()
    {
        await using var broker = await RestartingBroker.StartAsync();
        long robotsSeq, tablesSeq;
        await using (var bridge = await broker.Current.ConnectBridgeAsync())
        {
            await bridge.PublishAsync(BridgeLine.Upsert("robots", "robot-1", """{"x":2.4,"y":1,"battery":80,"state":"idle"}"""));
            robotsSeq = await bridge.PublishAsync(BridgeLine.Upsert("robots", "robot-2", """{"x":2.4,"y":11,"battery":64,"state":"idle"}"""));
            tablesSeq = await bridge.PublishAsync(BridgeLine.Upsert("tables", "T1", """{"state":"seated","seats":2,"x":6.5,"y":2.25}"""));
        }

        await using var context = await BrowserFixture.NewContextAsync();
        var page = await context.NewPageAsync();
        var sockets = new PageWebSockets(page);
        await page.GotoAsync(broker.PageUrl());
        var dashboard = new DashboardPage(page);
        await dashboard.ExpectRobotAsync("robot-1", "idle", "80%", "—");
        await PageExpect.AttributeAsync(dashboard.Table("T1"), "data-state", "seated");
        var beforeRestart = sockets.Count;

        await broker.StopAsync();
        await PageExpect.TextAsync(dashboard.Status("robots"), "reconnecting");
        await PageExpect.TextAsync(dashboard.Status("tables"), "reconnecting");

        await broker.PublishWhileAwayAsync(
            BridgeLine.Upsert("robots", "robot-1", """{"x":6.5,"y":4.1,"battery":77,"state":"delivering","table":"T1"}"""),
            BridgeLine.Upsert("robots", "robot-3", """{"x":2.4,"y":6,"battery":95,"state":"idle"}"""),
            BridgeLine.Delete("robots", "robot-2"),
            BridgeLine.Upsert("tables", "T1", """{"state":"waiting","seats":2,"x":6.5,"y":2.25}"""));
        await broker.RestartAsync();

        // The page was never reloaded: everything it shows now came through its resumed sockets.
        await dashboard.ExpectRobotAsync("robot-1", "delivering", "77%", "T1");
        await dashboard.ExpectRobotAsync("robot-3", "idle", "95%", "—");
        await PageExpect.TextsAsync(dashboard.RobotNames, "robot-1", "robot-3");
        await PageExpect.AttributeAsync(dashboard.Table("T1"), "data-state", "waiting");
        await PageExpect.TextAsync(dashboard.Status("robots"), "live");
        await PageExpect.TextAsync(dashboard.Status("tables"), "live");

        await using (var bridge = await broker.Current.ConnectBridgeAsync())
        {
            await bridge.PublishAsync(BridgeLine.Upsert("robots", "robot-3", """{"x":4.2,"y":6,"battery":94,"state":"delivering","table":"T1"}"""));
        }

        await dashboard.ExpectRobotAsync("robot-3", "delivering", "94%", "T1");

        await sockets.ExpectResumedAsync("robots", beforeRestart, robotsSeq);
        await sockets.ExpectResumedAsync("tables", beforeRestart, tablesSeq);
    }
}
