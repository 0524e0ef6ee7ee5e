using System.Text.Json;

namespace TopicBroker.Tests.Samples;

/// <summary>The kitchen display (samples/web/kitchen.html) in real Chromium, served by the real broker.</summary>
public sealed class KitchenDisplayTests
{
    [Test]
    public async Task Kitchen_OrdersThroughTheBridge_AppearInTheColumnOfTheirStatus()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using var context = await BrowserFixture.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(broker.HttpUri + "kitchen.html");
        var kitchen = new KitchenPage(page);
        await PageExpect.TextAsync(kitchen.Status, "live");
        await PageExpect.HiddenAsync(kitchen.Banner);

        await using var bridge = await broker.ConnectBridgeAsync();
        await bridge.PublishAsync(Order("order-1", "T4", "new", "ramen", "ramen", "gyoza"));
        await bridge.PublishAsync(Order("order-2", "T7", "cooking", "karaage"));
        await bridge.PublishAsync(Order("order-3", "T2", "ready", "miso soup"));
        await bridge.PublishAsync(Order("order-4", "T9", "served", "green tea"));

        await kitchen.ExpectColumnAsync("new", "order-1");
        await kitchen.ExpectColumnAsync("cooking", "order-2");
        await kitchen.ExpectColumnAsync("ready", "order-3");
        await PageExpect.CountAsync(kitchen.Ticket("order-4"), 0);
        await PageExpect.TextAsync(kitchen.Ticket("order-1").Locator(".ticket-table-name"), "T4");
        await PageExpect.TextsAsync(kitchen.Ticket("order-1").Locator(".ticket-items li"), "2× ramen", "gyoza");
        await PageExpect.TextAsync(kitchen.Ticket("order-1").Locator(".bump"), "Start cooking");

        await bridge.PublishAsync(Order("order-1", "T4", "cooking", "ramen", "ramen", "gyoza"));
        await bridge.PublishAsync(BridgeLine.Delete("orders", "order-3"));

        await kitchen.ExpectColumnAsync("new");
        await kitchen.ExpectColumnAsync("cooking", "order-1", "order-2");
        await kitchen.ExpectColumnAsync("ready");
        await PageExpect.TextAsync(kitchen.Ticket("order-1").Locator(".bump"), "Mark ready");
    }

    [Test]
    public async Task Kitchen_Bump_PostsTheNextStatusAndEveryScreenMovesTheTicketOnTheBrokersUpdate()
    {
        await using var broker = await BrokerHost.StartAsync();
        await broker.PublishAsync("orders", "order-1", OrderData("T4", "new", "ramen", "gyoza"));
        await using var context = await BrowserFixture.NewContextAsync();
        var bumping = new KitchenPage(await context.NewPageAsync());
        var watching = new KitchenPage(await context.NewPageAsync());
        foreach (var screen in new[] { bumping, watching })
        {
            await screen.Page.GotoAsync(broker.HttpUri + "kitchen.html");
            await screen.ExpectColumnAsync("new", "order-1");
        }

        // A background tab gets no animation frames, and Playwright's click waits for two of them.
        await bumping.Page.BringToFrontAsync();

        using var http = broker.CreateHttpClient();
        foreach (var (from, to) in new[] { ("new", "cooking"), ("cooking", "ready") })
        {
            await bumping.BumpAsync("order-1");

            Assert.That(await StatusInBrokerAsync(http, "order-1"), Is.EqualTo(to));
            foreach (var screen in new[] { bumping, watching })
            {
                await screen.ExpectColumnAsync(to, "order-1");
                await screen.ExpectColumnAsync(from);
            }
        }

        await bumping.BumpAsync("order-1");

        Assert.That(await StatusInBrokerAsync(http, "order-1"), Is.EqualTo("served"));
        foreach (var screen in new[] { bumping, watching })
        {
            await PageExpect.CountAsync(screen.Ticket("order-1"), 0);
        }

        var stored = await EntityInBrokerAsync(http, "order-1");
        Assert.That(stored.GetProperty("table").GetString(), Is.EqualTo("T4"), "a bump changes the status and keeps the rest of the order");
        Assert.That(stored.GetProperty("items").EnumerateArray().Select(i => i.GetString()), Is.EqualTo(new[] { "ramen", "gyoza" }));
    }

    [Test]
    public async Task Kitchen_BrokerRestarts_DisplayWarnsResumesWithSinceAndBumpsAgain()
    {
        await using var broker = await RestartingBroker.StartAsync();
        long ordersSeq;
        await using (var bridge = await broker.Current.ConnectBridgeAsync())
        {
            await bridge.PublishAsync(Order("order-1", "T4", "new", "ramen"));
            ordersSeq = await bridge.PublishAsync(Order("order-2", "T7", "cooking", "karaage", "edamame"));
        }

        await using var context = await BrowserFixture.NewContextAsync();
        var page = await context.NewPageAsync();
        var sockets = new PageWebSockets(page);
        await page.GotoAsync(broker.PageUrl("kitchen.html"));
        var kitchen = new KitchenPage(page);
        await kitchen.ExpectColumnAsync("new", "order-1");
        await kitchen.ExpectColumnAsync("cooking", "order-2");
        var beforeRestart = sockets.Count;

        await broker.StopAsync();
        await PageExpect.TextAsync(kitchen.Status, "reconnecting");
        await PageExpect.TextAsync(kitchen.Banner, "Connection lost: reconnecting. Orders shown may be out of date.");

        // A bump while the broker is away fails visibly and moves nothing.
        await kitchen.Ticket("order-1").Locator(".bump").ClickAsync();
        await PageExpect.TextAsync(kitchen.Ticket("order-1").Locator(".ticket-error"), "Not bumped: the broker cannot be reached");
        await kitchen.ExpectColumnAsync("new", "order-1");

        await broker.PublishWhileAwayAsync(
            Order("order-2", "T7", "ready", "karaage", "edamame"),
            Order("order-3", "T2", "new", "tempura udon"));
        await broker.RestartAsync();

        await kitchen.ExpectColumnAsync("new", "order-1", "order-3");
        await kitchen.ExpectColumnAsync("cooking");
        await kitchen.ExpectColumnAsync("ready", "order-2");
        await PageExpect.TextAsync(kitchen.Status, "live");
        await PageExpect.HiddenAsync(kitchen.Banner);

        await kitchen.BumpAsync("order-3");
        await kitchen.ExpectColumnAsync("cooking", "order-3");
        await kitchen.ExpectColumnAsync("new", "order-1");

        await sockets.ExpectResumedAsync("orders", beforeRestart, ordersSeq);
    }

    private static string Order(string id, string table, string status, params string[] items) =>
        BridgeLine.Upsert("orders", id, OrderData(table, status, items));

    [Test]
    public async Task Kitchen_OpenedWithAToken_WorksOnABrokerThatRequiresTokens_AndWithoutOneDoesNot()
    {
        await using var broker = await BrokerHost.StartAsync(TestTokens.AuthSettings());
        await broker.PublishAsync("orders", "order-1", OrderData("T4", "new", "ramen"));
        await using var context = await BrowserFixture.NewContextAsync();
        var anonymous = new KitchenPage(await context.NewPageAsync());
        await anonymous.Page.GotoAsync(broker.HttpUri + "kitchen.html");
        var kitchen = new KitchenPage(await context.NewPageAsync());
        await kitchen.Page.GotoAsync(broker.HttpUri + "kitchen.html?access_token=" + TestTokens.Create(subscribe: ["orders"], publish: ["orders"]));

        // The token goes on the WebSocket URL and on the bump's HTTP request.
        await kitchen.ExpectColumnAsync("new", "order-1");
        await kitchen.Page.BringToFrontAsync();
        await kitchen.BumpAsync("order-1");
        await kitchen.ExpectColumnAsync("cooking", "order-1");
        using var http = broker.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", TestTokens.Create(subscribe: ["orders"]));
        Assert.That(await StatusInBrokerAsync(http, "order-1"), Is.EqualTo("cooking"));

        // Without a token the handshake is refused (401) and the screen keeps trying.
        await PageExpect.TextAsync(anonymous.Status, "reconnecting");
        await PageExpect.CountAsync(anonymous.Ticket("order-1"), 0);
    }

    private static string OrderData(string table, string status, params string[] items) =>
        JsonSerializer.Serialize(new { table, items, status, createdAt = 1_763_840_000_000 });

    private static async Task<JsonElement> EntityInBrokerAsync(HttpClient http, string id)
    {
        var snapshot = JsonDocument.Parse(await http.GetStringAsync("/api/topics/orders").DefaultTimeout()).RootElement;
        return snapshot.GetProperty("data").GetProperty(id).Clone();
    }

    private static async Task<string?> StatusInBrokerAsync(HttpClient http, string id) =>
        (await EntityInBrokerAsync(http, id)).GetProperty("status").GetString();
}
