using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TopicBroker.Tests.Samples;

namespace TopicBroker.Tests.Clients;

/// <summary>
/// The JavaScript client package (clients/js) under <c>node --test</c> against a real broker.
/// The node tests reach the broker at <c>TOPICBROKER_URL</c> and ask this fixture to stop,
/// restart or feed it through a small control server at <c>TOPICBROKER_CONTROL_URL</c>.
/// </summary>
public sealed partial class JavaScriptClientTests
{
    private const string NodePath = "/usr/bin/node";

    private static readonly SemaphoreSlim NpmGate = new(1, 1);

    [Test]
    public async Task NodeTests_AgainstTheBroker_AllPass()
    {
        await SystemPackages.RequireAsync(NodePath, "nodejs");
        var package = Path.Combine(RepositoryRoot(), "clients", "js");
        await EnsureNodeModulesAsync(package);

        await using var broker = await RestartingBroker.StartAsync(TestTokens.AuthSettings(new()
        {
            // Pings stamped past a token's expiry show that a refreshed socket outlived it.
            ["Broker:PingInterval"] = "00:00:00.100",
            ["Broker:PongTimeout"] = "00:01:00",
            // Long enough that a client ignoring reconnectAfterMs shows, short enough for the suite.
            ["Broker:ShutdownReconnectSpread"] = "00:00:01.500",
        }));
        var (control, controlUrl) = await StartControlServerAsync(broker);
        await using var stopControl = control;

        var (exitCode, output) = await RunAsync(NodePath, ["--test", "--test-concurrency=1"], package, new Dictionary<string, string>
        {
            ["TOPICBROKER_URL"] = broker.PageUrl().TrimEnd('/'),
            ["TOPICBROKER_CONTROL_URL"] = controlUrl,
            ["TOPICBROKER_SIGNING_KEY"] = TestTokens.Key,
        }, TimeSpan.FromMinutes(3));

        Assert.That(exitCode, Is.Zero, "node --test failed:\n" + output);
        // A suite that skipped itself (no broker in the environment) passes nothing: that is a failure here.
        Assert.That(Summary("pass", output), Is.GreaterThanOrEqualTo(5), output);
        Assert.That(Summary("skipped", output), Is.Zero, output);
        Assert.That(Summary("fail", output), Is.Zero, output);
    }

    /// <summary>
    /// The control server: POST /stop (graceful, as SIGTERM), POST /start (same port and
    /// database; nothing if running), POST /publish-while-away with <c>[{topic, id, data}]</c>, answering <c>{"seq":N}</c>.
    /// </summary>
    private static async Task<(WebApplication App, string Url)> StartControlServerAsync(RestartingBroker broker)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/stop", async () =>
        {
            await broker.StopAsync();
            return Results.Json(new { ok = true });
        });
        app.MapPost("/start", async () =>
        {
            // Idempotent, so that every node test can end with it whether or not it stopped the broker.
            if (!broker.IsRunning)
            {
                await broker.RestartAsync();
            }

            return Results.Json(new { ok = true });
        });
        app.MapPost("/publish-while-away", async (HttpRequest request) =>
        {
            using var changes = await JsonDocument.ParseAsync(request.Body);
            var lines = changes.RootElement.EnumerateArray().Select(change =>
            {
                var topic = change.GetProperty("topic").GetString()!;
                var id = change.GetProperty("id").GetString()!;
                return change.GetProperty("data") is { ValueKind: JsonValueKind.Null }
                    ? BridgeLine.Delete(topic, id)
                    : BridgeLine.Upsert(topic, id, change.GetProperty("data").GetRawText());
            }).ToArray();
            return Results.Json(new { seq = await broker.PublishWhileAwayAsync(lines) });
        });
        await app.StartAsync().DefaultTimeout();
        return (app, app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
    }

    /// <summary><c>npm ci</c> once, when clients/js has no node_modules yet (a fresh clone).</summary>
    private static async Task EnsureNodeModulesAsync(string package)
    {
        await NpmGate.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(package, "node_modules")))
            {
                return;
            }

            var (exitCode, output) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], package, new Dictionary<string, string>(), TimeSpan.FromMinutes(5));
            Assert.That(exitCode, Is.Zero, "npm ci failed:\n" + output);
        }
        finally
        {
            NpmGate.Release();
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(
        string program, string[] arguments, string directory, Dictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().DefaultTimeout();
            Assert.Fail($"{program} {string.Join(' ', arguments)} did not finish within {timeout.TotalMinutes} min:\n{Output()}");
        }

        // The exit is seen before the last output lines have been read; WaitForExit() with no timeout waits for them.
        process.WaitForExit();
        return (process.ExitCode, Output());

        void Append(string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }

        string Output()
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>A count from node's closing summary, such as <c># pass 5</c>.</summary>
    private static int Summary(string name, string output)
    {
        var match = SummaryLine().Matches(output).LastOrDefault(m => m.Groups[1].Value == name);
        Assert.That(match, Is.Not.Null, $"no '# {name}' line in node's output:\n{output}");
        return int.Parse(match!.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^# (\w+) (\d+)$", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TopicBroker.sln")))
            {
                return dir.FullName;
            }
        }

        Assert.Fail("the repository root (TopicBroker.sln) was not found above " + AppContext.BaseDirectory);
        return "";
    }
}
