using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Playwright;
using RobotBridge.Simulation;

namespace TopicBroker.Tests.Samples;

/// <summary>
/// The screenshots in README.md's "See it live", taken from the real pages on a busy evening.
/// The page clock is fixed, so clocks and ticket ages (and so the files) are the same on every run.
/// </summary>
public sealed class ReadmeScreenshotTests
{
    private static readonly DateTime s_evening = new(2025, 11, 21, 19, 42, 0, DateTimeKind.Utc);
    private static readonly JsonSerializerOptions s_skipNulls = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    [Test]
    public async Task Dashboard_BusyFloor_IsShownAndSavedForTheReadme()
    {
        await using var broker = await BrokerHost.StartAsync();
        var tableStates = new[] { "seated", "free", "seated", "waiting", "free", "waiting", "seated", "free", "waiting", "seated", "waiting", "seated" };
        foreach (var (table, state) in FloorPlan.Tables.Zip(tableStates))
        {
            await broker.PublishAsync("tables", table.Id, JsonSerializer.Serialize(new { state, seats = table.Seats, x = table.Position.X, y = table.Position.Y }));
        }

        var robotCount = 6;
        var docks = Enumerable.Range(0, robotCount).Select(i => FloorPlan.Dock(i, robotCount)).ToArray();
        var robots = new (string State, double X, double Y, int Battery, string? Table)[]
        {
            ("delivering", 8.4, 4.1, 72, "T6"),
            ("delivering", 4.2, 7.3, 64, "T11"),
            ("returning", 12.6, 4.1, 58, null),
            ("idle", docks[3].X, docks[3].Y, 91, null),
            ("charging", docks[4].X, docks[4].Y, 14, null),
            ("delivering", 6.5, 7.9, 47, "T9"),
        };
        foreach (var (robot, index) in robots.Select((r, i) => (r, i)))
        {
            await broker.PublishAsync("robots", $"robot-{index + 1}", JsonSerializer.Serialize(new { x = robot.X, y = robot.Y, battery = robot.Battery, state = robot.State, table = robot.Table }, s_skipNulls));
        }

        await using var context = await BrowserFixture.NewContextAsync();
        var page = await context.NewPageAsync();
        // The floor fits in 720 pixels; more would only add blank space below it.
        await page.SetViewportSizeAsync(1400, 720);
        await page.Clock.SetFixedTimeAsync(s_evening);
        await page.GotoAsync(broker.HttpUri.ToString());
        var dashboard = new DashboardPage(page);

        await PageExpect.TextAsync(page.Locator("[data-robot-count]"), "6");
        await PageExpect.CountAsync(page.Locator("#floor-robots .robot"), 6);
        await PageExpect.TextAsync(page.Locator("[data-table-total]"), "12");
        await PageExpect.CountAsync(page.Locator("#floor-tables .table"), 12);
        await dashboard.ExpectTableCountsAsync(free: 3, seated: 5, waiting: 4);
        await dashboard.ExpectRobotAsync("robot-5", "charging", "14%", "—");
        await PageExpect.TextAsync(dashboard.Status("robots"), "live");
        await PageExpect.TextAsync(dashboard.Status("tables"), "live");

        await SaveScreenshotAsync(page, "dashboard.png");
    }

    [Test]
    public async Task Kitchen_BusyService_IsShownAndSavedForTheReadme()
    {
        await using var broker = await BrokerHost.StartAsync();
        // Oldest first, as the order numbers were given out.
        var orders = new (string Table, string Status, TimeSpan Age, string[] Items)[]
        {
            ("T10", "ready", new(0, 16, 20), ["salmon don", "miso soup", "matcha ice cream"]),
            ("T6", "ready", new(0, 12, 30), ["tempura udon", "tempura udon", "takoyaki"]),
            ("T4", "ready", new(0, 10, 50), ["ramen", "gyoza"]),
            ("T12", "cooking", new(0, 9, 15), ["gyoza", "edamame", "miso soup"]),
            ("T7", "cooking", new(0, 8, 40), ["karaage", "karaage", "salmon don", "green tea", "green tea"]),
            ("T11", "cooking", new(0, 4, 25), ["tempura udon", "karaage"]),
            ("T5", "new", new(0, 3, 10), ["takoyaki", "miso soup"]),
            ("T9", "new", new(0, 1, 55), ["ramen", "ramen", "gyoza", "edamame"]),
            ("T2", "new", new(0, 0, 40), ["salmon don", "green tea"]),
        };
        var now = new DateTimeOffset(s_evening).ToUnixTimeMilliseconds();
        foreach (var (order, index) in orders.Select((o, i) => (o, i)))
        {
            await broker.PublishAsync("orders", $"order-{41 + index}", JsonSerializer.Serialize(new
            {
                table = order.Table,
                items = order.Items,
                status = order.Status,
                createdAt = now - (long)order.Age.TotalMilliseconds,
            }));
        }

        await using var context = await BrowserFixture.NewContextAsync();
        var page = await context.NewPageAsync();
        // A kitchen screen is tall enough for three tickets a column.
        await page.SetViewportSizeAsync(1500, 1060);
        await page.Clock.SetFixedTimeAsync(s_evening);
        await page.GotoAsync(broker.HttpUri + "kitchen.html");
        var kitchen = new KitchenPage(page);

        await kitchen.ExpectColumnAsync("new", "order-47", "order-48", "order-49");
        await kitchen.ExpectColumnAsync("cooking", "order-44", "order-45", "order-46");
        await kitchen.ExpectColumnAsync("ready", "order-41", "order-42", "order-43");
        await PageExpect.TextAsync(kitchen.Ticket("order-41").Locator("[data-age]"), "16:20");
        await PageExpect.AttributeAsync(kitchen.Ticket("order-41"), "data-age-level", "late");
        await PageExpect.AttributeAsync(kitchen.Ticket("order-45"), "data-age-level", "warn");
        await PageExpect.AttributeAsync(kitchen.Ticket("order-46"), "data-age-level", "ok");
        await PageExpect.TextAsync(kitchen.Status, "live");
        await PageExpect.HiddenAsync(kitchen.Banner);

        await SaveScreenshotAsync(page, "kitchen.png");
    }

    private static async Task SaveScreenshotAsync(IPage page, string fileName)
    {
        var path = BrowserFixture.DocsPath(fileName);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, Animations = ScreenshotAnimations.Disabled, Caret = ScreenshotCaret.Hide });
        Assert.That(new FileInfo(path).Length, Is.GreaterThan(10_000), $"{path} looks empty");
    }
}
