using System.Net;
using System.Text;
using System.Text.Json;
using Serilog.Events;

namespace TopicBroker.Tests.Diagnostics;

public sealed class LoggingTests
{
    private const string RequestLogging = "Serilog.AspNetCore.RequestLoggingMiddleware";

    private static bool IsRequestLog(LogEvent e, string path) =>
        e.Properties.TryGetValue("RequestPath", out var value) && value is ScalarValue { Value: string p } && p == path;

    private static object? Property(LogEvent e, string name) =>
        e.Properties.TryGetValue(name, out var value) && value is ScalarValue scalar ? scalar.Value : null;

    [Test]
    public async Task RequestLog_HasMethodPathAndStatus_NeverTheQueryStringOrTheBody()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            [$"Serilog:MinimumLevel:Override:{RequestLogging}"] = "Verbose",
        });
        using var http = broker.CreateHttpClient();

        using var response = await http.PostAsync("/api/topics/orders/entities/order-1?access_token=s3cret-token",
            new StringContent("""{"note":"s3cret-body"}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await broker.WaitForLogAsync(e => IsRequestLog(e, "/api/topics/orders/entities/order-1"));

        var request = broker.LogEvents.Single(e => IsRequestLog(e, "/api/topics/orders/entities/order-1"));
        Assert.That(request.Level, Is.EqualTo(LogEventLevel.Information));
        Assert.That(Property(request, "RequestMethod"), Is.EqualTo("POST"));
        Assert.That(Property(request, "StatusCode"), Is.EqualTo(200));
        var everything = string.Join("\n", broker.LogEvents.Select(e => e.RenderMessage() + " " + string.Join(" ", e.Properties.Values)));
        Assert.That(everything, Does.Not.Contain("s3cret"), "neither the query string (it may carry a token) nor the body is logged");
    }

    [Test]
    public async Task RequestLog_OfProbesScrapesAndStatusPolls_IsDebug_SoTheyDoNotDrownTheLog()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            [$"Serilog:MinimumLevel:Override:{RequestLogging}"] = "Verbose",
        });
        using var http = broker.CreateHttpClient();

        foreach (var path in new[] { "/health", "/ready", "/metrics", "/api/status", "/ops/" })
        {
            using var response = await http.GetAsync(path).DefaultTimeout();
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), path);
            await broker.WaitForLogAsync(e => IsRequestLog(e, path));
            Assert.That(broker.LogEvents.Single(e => IsRequestLog(e, path)).Level, Is.EqualTo(LogEventLevel.Debug), path);
        }
    }

    [Test]
    public async Task WebSocketOpenAndClose_AreDebug_WithCloseCodeAndReason_AndARefusalIsAWarning()
    {
        await using var broker = await BrokerHost.StartAsync();
        await using (var client = await broker.ConnectAsync("orders"))
        {
            await client.ReceiveFrameAsync("snapshot");
        }

        await broker.WaitForLogAsync(e => Equals(Property(e, "Topic"), "orders") && Equals(Property(e, "CloseStatus"), 1000));
        var events = broker.LogEvents.Where(e => Equals(Property(e, "Topic"), "orders")).ToList();
        Assert.That(events.Where(e => e.MessageTemplate.Text.Contains("opened", StringComparison.Ordinal)).Select(e => e.Level), Is.EqualTo(new[] { LogEventLevel.Debug }));
        Assert.That(events.Where(e => Property(e, "CloseStatus") is not null).Select(e => e.Level), Is.All.EqualTo(LogEventLevel.Debug));

        await using var refused = await broker.ConnectAsync("nosuchtopic");
        var (status, _, _) = await refused.ReceiveUntilCloseAsync();
        Assert.That((int?)status, Is.EqualTo(1003));
        await broker.WaitForLogAsync(e => Equals(Property(e, "Topic"), "nosuchtopic"));
        Assert.That(broker.LogEvents.Where(e => Equals(Property(e, "Topic"), "nosuchtopic")).Select(e => e.Level), Has.Some.EqualTo(LogEventLevel.Warning));
    }

    [Test]
    public async Task LogFormatJson_WritesOnlyCompactJsonEvents_OnePerLine()
    {
        var directory = Directory.CreateTempSubdirectory("topicbroker-logs-").FullName;
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var info = BrokerProcess.CreateStartInfo(directory, ["--Broker:Diagnostics:LogFormat=Json"]);
        var broker = ServerProcess.Start(info, line =>
        {
            if (line.Contains("Now listening on", StringComparison.Ordinal))
            {
                listening.TrySetResult();
            }
        });
        string[] output;
        try
        {
            await listening.Task.DefaultTimeout(TimeSpan.FromSeconds(60));
            await broker.KillAsync();
            output = broker.Output.Split('\n');
        }
        finally
        {
            await broker.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }

        Assert.That(output, Is.Not.Empty);
        foreach (var line in output)
        {
            using var json = JsonDocument.Parse(line);
            Assert.That(json.RootElement.TryGetProperty("@t", out _), Is.True, line);
            Assert.That(json.RootElement.TryGetProperty("@m", out _), Is.True, line);
        }

        Assert.That(output, Has.Some.Contains("\"SourceContext\":\"TopicBroker.Ingest.BridgeListener\""));
    }
}
