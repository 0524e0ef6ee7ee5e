using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace TopicBroker.Tests.Diagnostics;

public sealed class OpsPageTests
{
    private static readonly float ExpectTimeoutMs = (float)TaskTimeouts.Default.TotalMilliseconds;

    private static Task ExpectTextAsync(ILocator locator, string text) =>
        Expect(locator).ToHaveTextAsync(text, new LocatorAssertionsToHaveTextOptions { Timeout = ExpectTimeoutMs });

    private static Task ExpectAttributeAsync(ILocator locator, string name, Regex value) =>
        Expect(locator).ToHaveAttributeAsync(name, value, new LocatorAssertionsToHaveAttributeOptions { Timeout = ExpectTimeoutMs });

    /// <summary>Opens /ops in a fresh browser context; page errors and console errors are collected for the test to check.</summary>
    private static async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenOpsPageAsync(BrokerHost broker)
    {
        var context = await BrowserFixture.NewContextAsync();
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };
        var response = await page.GotoAsync(new Uri(broker.HttpUri, "/ops").ToString());
        Assert.That(response?.Status, Is.EqualTo(200));
        return (context, page, errors);
    }

    [Test]
    public async Task OpsPage_ShowsLiveNumbersAndCharts_ThatMoveWithTraffic()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            // A short history at a fine interval, so a few seconds of traffic fill a chart, and
            // rates averaged over all of it, so they still show when the screenshot is taken.
            ["Broker:Diagnostics:SampleInterval"] = "00:00:00.050",
            ["Broker:Diagnostics:History"] = "00:00:05",
            ["Broker:Diagnostics:RateWindow"] = "00:00:05",
        });
        var (context, page, errors) = await OpenOpsPageAsync(broker);
        await using var _ = context;
        var robots = page.Locator("[data-topic=robots]");
        var orders = page.Locator("[data-topic=orders]");
        await ExpectTextAsync(page.Locator("#health [data-field=health]"), "Healthy");
        await ExpectTextAsync(robots.Locator("[data-field=updatesIn]"), "0");
        await ExpectTextAsync(robots.Locator("[data-field=subscribers]"), "0");
        await ExpectTextAsync(page.Locator("#bridge [data-field=bridge-state]"), "listening");

        var subscribers = new List<TestWebSocket>();
        foreach (var (topic, count) in new[] { ("robots", 3), ("orders", 2), ("tables", 4), ("events", 1) })
        {
            for (var i = 0; i < count; i++)
            {
                var client = await broker.ConnectAsync(topic);
                await client.ReceiveFrameAsync("snapshot");
                subscribers.Add(client);
            }
        }

        await using var bridge = await broker.ConnectBridgeAsync();
        var published = await PublishTrafficAsync(bridge);

        await ExpectTextAsync(robots.Locator("[data-field=subscribers]"), "3");
        await ExpectTextAsync(orders.Locator("[data-field=subscribers]"), "2");
        await ExpectTextAsync(robots.Locator("[data-field=updatesIn]"), published["robots"].ToString());
        await ExpectTextAsync(orders.Locator("[data-field=updatesIn]"), published["orders"].ToString());
        await ExpectTextAsync(robots.Locator("[data-field=seq]"), published["robots"].ToString());
        await ExpectTextAsync(page.Locator("[data-field=total-subscribers]"), "10");
        await ExpectTextAsync(page.Locator("#bridge [data-field=bridge-connections]"), "1");
        // The chart holds samples, drawn from the history the page keeps fetching.
        await ExpectAttributeAsync(robots.Locator("canvas"), "data-points", new Regex("^[1-9][0-9]+$"));

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = BrowserFixture.DocsPath("ops.png"), FullPage = true });
        Assert.That(errors, Is.Empty, "the page logged errors");
        foreach (var client in subscribers)
        {
            await client.DisposeAsync();
        }
    }

    [Test]
    public async Task OpsPage_ShowsTheHealthStateLive()
    {
        await using var broker = await BrokerHost.StartAsync();
        broker.AllowErrorLogs = true; // the failed commit below is logged as an error
        var (context, page, errors) = await OpenOpsPageAsync(broker);
        await using var _ = context;
        var health = page.Locator("#health");
        await ExpectTextAsync(health.Locator("[data-field=health]"), "Healthy");

        await using (var other = broker.OpenDatabase())
        {
            using var refuse = other.CreateCommand();
            refuse.CommandText = "CREATE TRIGGER refuse_writes BEFORE INSERT ON updates BEGIN SELECT RAISE(ABORT, 'refused by the test'); END";
            refuse.ExecuteNonQuery();
            Assert.That(await PostAsync(broker, "orders", "order-1"), Is.EqualTo(HttpStatusCode.ServiceUnavailable));

            await ExpectTextAsync(health.Locator("[data-field=health]"), "Unhealthy");
            await ExpectAttributeAsync(health.Locator("[data-check=store]"), "data-state", new Regex("^Unhealthy$"));
            await ExpectTextAsync(page.Locator("#ingest [data-field=store-state]"), "failing");

            using var allow = other.CreateCommand();
            allow.CommandText = "DROP TRIGGER refuse_writes";
            allow.ExecuteNonQuery();
        }

        Assert.That(await PostAsync(broker, "orders", "order-2"), Is.EqualTo(HttpStatusCode.OK));
        await ExpectTextAsync(health.Locator("[data-field=health]"), "Healthy");
        await ExpectTextAsync(page.Locator("#ingest [data-field=store-state]"), "ok");
        Assert.That(errors, Is.Empty, "the page logged errors");
    }

    /// <summary>
    /// Three seconds of uneven traffic from one bridge (steady robots, bursty orders, a trickle
    /// of tables), so the charts in the screenshot have a shape; returns the changes per topic.
    /// </summary>
    private static async Task<Dictionary<string, int>> PublishTrafficAsync(TestBridgeClient bridge)
    {
        var published = new Dictionary<string, int> { ["robots"] = 0, ["orders"] = 0, ["tables"] = 0 };
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        for (var tick = 0; tick < 30; tick++)
        {
            var lines = new StringBuilder();
            void Add(string topic, string id, string data)
            {
                lines.Append($$"""{"topic":"{{topic}}","id":"{{id}}","data":{{data}}}""").Append('\n');
                published[topic]++;
            }

            for (var r = 0; r < 3 + (tick % 10 < 5 ? tick % 5 : 5 - tick % 5); r++)
            {
                Add("robots", $"robot-{r}", $$"""{"x":{{tick}},"y":{{r}},"battery":{{90 - tick}}}""");
            }

            if (tick % 8 is 2 or 3)
            {
                for (var o = 0; o < 12; o++)
                {
                    Add("orders", $"order-{tick}-{o}", """{"status":"cooking"}""");
                }
            }

            if (tick % 6 == 0)
            {
                Add("tables", $"T{tick % 12}", """{"state":"seated"}""");
            }

            var count = lines.ToString().Count(c => c == '\n');
            await bridge.SendRawAsync(Encoding.UTF8.GetBytes(lines.ToString()));
            for (var i = 0; i < count; i++)
            {
                await bridge.ReadAckAsync();
            }

            await pace.WaitForNextTickAsync();
        }

        return published;
    }

    private static async Task<HttpStatusCode> PostAsync(BrokerHost broker, string topic, string id)
    {
        using var http = broker.CreateHttpClient();
        using var response = await http.PostAsync($"/api/topics/{topic}/entities/{id}",
            new StringContent("""{"status":"new"}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        return response.StatusCode;
    }
}
