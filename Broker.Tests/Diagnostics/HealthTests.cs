using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Tests.Diagnostics;

public sealed class HealthTests
{
    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path).DefaultTimeout();
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"), path);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static string EntryStatus(JsonElement report, string check) =>
        report.GetProperty("entries").GetProperty(check).GetProperty("status").GetString()!;

    [Test]
    public async Task Health_WhenRunning_Is200Healthy()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();

        var (status, body) = await GetAsync(http, "/health");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(body.GetProperty("status").GetString(), Is.EqualTo("Healthy"));
    }

    [Test]
    public async Task Ready_WhenRunning_Is200WithStoreBridgeAndShutdownHealthy()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var http = broker.CreateHttpClient();

        var (status, body) = await GetAsync(http, "/ready");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(body.GetProperty("status").GetString(), Is.EqualTo("Healthy"));
        Assert.That(body.GetProperty("entries").EnumerateObject().Select(e => e.Name), Is.EquivalentTo(new[] { "store", "bridge", "shutdown" }));
        Assert.That(body.GetProperty("entries").EnumerateObject().Select(e => e.Value.GetProperty("status").GetString()), Is.All.EqualTo("Healthy"));
        Assert.That(body.GetProperty("entries").GetProperty("bridge").GetProperty("data").GetProperty("endPoint").GetString(),
            Is.EqualTo(broker.BridgeEndPoint.ToString()));
    }

    [Test]
    public async Task Ready_WithTheBridgeDisabled_Is200()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?> { ["Broker:TcpBridge:Enabled"] = "false" });
        using var http = broker.CreateHttpClient();

        var (status, body) = await GetAsync(http, "/ready");

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(EntryStatus(body, "bridge"), Is.EqualTo("Healthy"));
        Assert.That(body.GetProperty("entries").GetProperty("bridge").GetProperty("description").GetString(), Does.Contain("disabled"));
    }

    [Test]
    public async Task Ready_DuringGracefulShutdown_Is503_WhileHealthStays200()
    {
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:ShutdownTimeout"] = "00:00:30",
        });
        await using var holder = await broker.ConnectAsync("robots");
        await holder.ReceiveFrameAsync("snapshot");
        using var http = broker.CreateHttpClient();
        Assert.That((await GetAsync(http, "/ready")).Status, Is.EqualTo(HttpStatusCode.OK));

        var stopping = broker.StopAsync();
        // The holder has its shutdown frame but does not answer the close yet, which keeps the
        // broker in its shutdown phase, with Kestrel still serving, while the probes run.
        await holder.ReceiveFrameAsync("shutdown");

        var (readyStatus, ready) = await GetAsync(http, "/ready");
        Assert.That(readyStatus, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(ready.GetProperty("status").GetString(), Is.EqualTo("Unhealthy"));
        Assert.That(EntryStatus(ready, "shutdown"), Is.EqualTo("Unhealthy"));
        Assert.That(EntryStatus(ready, "store"), Is.EqualTo("Healthy"));
        Assert.That((await GetAsync(http, "/health")).Status, Is.EqualTo(HttpStatusCode.OK), "draining is alive: a liveness restart would cut the drain");

        var (closeStatus, _, _) = await holder.ReceiveUntilCloseAsync();
        Assert.That((int?)closeStatus, Is.EqualTo(1001));
        await stopping.DefaultTimeout();
    }

    [Test]
    public async Task Ready_WhenTheStoreCannotCommit_Is503_UntilACommitSucceeds()
    {
        await using var broker = await BrokerHost.StartAsync();
        broker.AllowErrorLogs = true; // the pipeline logs the failed commit as an error, as it should
        using var http = broker.CreateHttpClient();
        await using var other = broker.OpenDatabase();

        // Another program makes every write to the history fail, so the broker's commits fail
        // (and roll back) at once. Holding a write lock would do it too, but only after
        // busy_timeout plus Microsoft.Data.Sqlite's own 30 s of retries on SQLITE_BUSY.
        Execute(other, "CREATE TRIGGER refuse_writes BEFORE INSERT ON updates BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
        Assert.That(await PostAsync(http, "orders", "order-1"), Is.EqualTo(HttpStatusCode.ServiceUnavailable), "the publish is answered 'unavailable'");

        var (status, body) = await GetAsync(http, "/ready");
        Assert.That(status, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(EntryStatus(body, "store"), Is.EqualTo("Unhealthy"));
        Assert.That(EntryStatus(body, "bridge"), Is.EqualTo("Healthy"));

        Execute(other, "DROP TRIGGER refuse_writes");
        Assert.That(await PostAsync(http, "orders", "order-2"), Is.EqualTo(HttpStatusCode.OK));
        var (recoveredStatus, recovered) = await GetAsync(http, "/ready");
        Assert.That(recoveredStatus, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(EntryStatus(recovered, "store"), Is.EqualTo("Healthy"));
    }

    private static void Execute(Microsoft.Data.Sqlite.SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static async Task<HttpStatusCode> PostAsync(HttpClient http, string topic, string id)
    {
        using var response = await http.PostAsync($"/api/topics/{topic}/entities/{id}",
            new StringContent("""{"status":"new"}""", Encoding.UTF8, "application/json")).DefaultTimeout();
        return response.StatusCode;
    }
}
