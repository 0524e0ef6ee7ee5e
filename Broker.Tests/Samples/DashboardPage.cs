using System.Globalization;
using Microsoft.Playwright;

namespace TopicBroker.Tests.Samples;

/// <summary>Locators of the floor dashboard, by the data attributes dashboard.js renders.</summary>
internal sealed class DashboardPage(IPage page)
{
    public ILocator RobotNames => page.Locator("#robot-rows .robot-name");

    public ILocator Status(string topic) => page.Locator($"[data-topic-status='{topic}']");

    public ILocator Robot(string id) => page.Locator($"#robot-rows tr[data-robot-id='{id}']");

    public ILocator RobotMarker(string id) => page.Locator($"#floor-robots [data-robot-marker='{id}']");

    public ILocator Table(string id) => page.Locator($"#floor-tables [data-table-id='{id}']");

    public async Task ExpectRobotAsync(string id, string state, string battery, string table)
    {
        var row = Robot(id);
        await PageExpect.TextAsync(row.Locator("[data-field='state']"), state);
        await PageExpect.TextAsync(row.Locator("[data-field='battery']"), battery);
        await PageExpect.TextAsync(row.Locator("[data-field='table']"), table);
        await PageExpect.AttributeAsync(RobotMarker(id), "data-state", state);
    }

    public async Task ExpectTableCountsAsync(int free, int seated, int waiting)
    {
        await PageExpect.TextAsync(page.Locator("[data-table-count='free']"), free.ToString(CultureInfo.InvariantCulture));
        await PageExpect.TextAsync(page.Locator("[data-table-count='seated']"), seated.ToString(CultureInfo.InvariantCulture));
        await PageExpect.TextAsync(page.Locator("[data-table-count='waiting']"), waiting.ToString(CultureInfo.InvariantCulture));
    }
}
