using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace TopicBroker.Tests.Samples;

/// <summary>
/// Playwright's auto-waiting assertions, each bounded by the suite's default timeout rather than
/// Playwright's 5 s: a page that reconnects after a restart waits out its own backoff first.
/// </summary>
internal static class PageExpect
{
    private static readonly float s_timeout = (float)TaskTimeouts.Default.TotalMilliseconds;

    public static Task TextAsync(ILocator locator, string text) =>
        Assertions.Expect(locator).ToHaveTextAsync(text, new() { Timeout = s_timeout });

    public static Task TextsAsync(ILocator locator, params string[] texts) =>
        Assertions.Expect(locator).ToHaveTextAsync(texts, new() { Timeout = s_timeout });

    public static Task AttributeAsync(ILocator locator, string name, string value) =>
        Assertions.Expect(locator).ToHaveAttributeAsync(name, value, new() { Timeout = s_timeout });

    public static Task AttributeAsync(ILocator locator, string name, Regex value) =>
        Assertions.Expect(locator).ToHaveAttributeAsync(name, value, new() { Timeout = s_timeout });

    public static Task CountAsync(ILocator locator, int count) =>
        Assertions.Expect(locator).ToHaveCountAsync(count, new() { Timeout = s_timeout });

    public static Task VisibleAsync(ILocator locator) =>
        Assertions.Expect(locator).ToBeVisibleAsync(new() { Timeout = s_timeout });

    public static Task HiddenAsync(ILocator locator) =>
        Assertions.Expect(locator).ToBeHiddenAsync(new() { Timeout = s_timeout });
}
