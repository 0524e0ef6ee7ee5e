using System.Globalization;
using Microsoft.Playwright;

namespace TopicBroker.Tests.Samples;

/// <summary>Locators and actions of the kitchen display, by the data attributes kitchen.js renders.</summary>
internal sealed class KitchenPage(IPage page)
{
    public IPage Page => page;

    public ILocator Status => page.Locator("[data-topic-status='orders']");

    public ILocator Banner => page.Locator("[data-connection-banner]");

    public ILocator Ticket(string id) => page.Locator($"[data-order-id='{id}']");

    /// <summary>Expects exactly these tickets, in this order, in the column, and its count to match.</summary>
    public async Task ExpectColumnAsync(string status, params string[] orderIds)
    {
        await PageExpect.TextsAsync(page.Locator($"[data-column='{status}'] .ticket .ticket-id"), orderIds);
        await PageExpect.TextAsync(page.Locator($"[data-column-count='{status}']"), orderIds.Length.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Clicks the ticket's bump button and expects the broker to accept the page's HTTP publish.</summary>
    public async Task BumpAsync(string id)
    {
        var response = await page.RunAndWaitForResponseAsync(
            () => Ticket(id).Locator(".bump").ClickAsync(),
            r => r.Request.Method == "POST" && r.Url.EndsWith($"/api/topics/orders/entities/{id}", StringComparison.Ordinal),
            new() { Timeout = (float)TaskTimeouts.Default.TotalMilliseconds });
        Assert.That(response.Status, Is.EqualTo(200), await response.TextAsync());
    }
}
