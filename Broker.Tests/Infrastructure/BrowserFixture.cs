using Microsoft.Playwright;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>
/// Real headless Chromium (Debian's, at /usr/bin/chromium; installed from Debian's packages
/// when missing, nothing is downloaded) driven by Playwright. One browser per test run; each test gets a fresh context.
/// </summary>
internal static class BrowserFixture
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static IPlaywright? s_playwright;
    private static IBrowser? s_browser;

    /// <summary>A new isolated browser context (own cookies and storage); dispose it at the end of the test.</summary>
    public static async Task<IBrowserContext> NewContextAsync()
    {
        var browser = await GetBrowserAsync();
        return await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
    }

    /// <summary>
    /// Where tests save the screenshots the README shows: <c>docs/</c> when the run is meant to
    /// refresh them (<c>TOPICBROKER_UPDATE_DOCS=1 dotnet test</c>), else the test output folder, so
    /// an ordinary run leaves the working tree as it was.
    /// </summary>
    public static string DocsPath(string fileName)
    {
        if (Environment.GetEnvironmentVariable("TOPICBROKER_UPDATE_DOCS") == "1")
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "TopicBroker.sln")))
                {
                    Directory.CreateDirectory(Path.Combine(dir.FullName, "docs"));
                    return Path.Combine(dir.FullName, "docs", fileName);
                }
            }
        }

        var screenshots = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(screenshots);
        return Path.Combine(screenshots, fileName);
    }

    private static async Task<IBrowser> GetBrowserAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (s_browser is { IsConnected: true })
            {
                return s_browser;
            }

            await SystemPackages.RequireAsync(ChromiumPath, "chromium");
            s_playwright ??= await Playwright.CreateAsync();
            s_browser = await s_playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
            });
            return s_browser;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Closes the browser at the end of the run (called by RunTeardown).</summary>
    internal static async Task CloseAsync()
    {
        if (s_browser is not null)
        {
            await s_browser.CloseAsync();
        }

        s_playwright?.Dispose();
    }
}
