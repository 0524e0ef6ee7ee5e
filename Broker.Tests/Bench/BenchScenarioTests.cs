using System.Text.Json;
using TopicBroker.Bench;

namespace TopicBroker.Tests.Bench;

/// <summary>
/// The benchmark is not a test, but it must keep working: each scenario runs briefly (--quick)
/// against a broker it starts, and its results must be sane. No timing is asserted.
/// </summary>
public sealed class BenchScenarioTests
{
    private string _results = null!;

    [SetUp]
    public void CreateResultsDirectory() => _results = Directory.CreateTempSubdirectory("topicbroker-bench-").FullName;

    [TearDown]
    public void DeleteResultsDirectory() => Directory.Delete(_results, recursive: true);

    [TestCase("fanout")]
    [TestCase("topics")]
    public async Task DeliveryScenario_RunsAndDeliversEveryUpdate_WithSaneFigures(string scenario)
    {
        var result = await RunAsync(scenario);

        var delivery = result.GetProperty("delivery");
        var step = delivery.GetProperty("steps")[0];
        Assert.That(delivery.GetProperty("connect").GetProperty("failed").GetInt32(), Is.Zero);
        Assert.That(step.GetProperty("deliveredFramesPerSecond").GetDouble(), Is.GreaterThan(0));
        Assert.That(step.GetProperty("framesLost").GetInt64(), Is.Zero);
        Assert.That(delivery.GetProperty("totals").GetProperty("duplicates").GetInt64(), Is.Zero);
        var latency = step.GetProperty("latency");
        Assert.That(latency.GetProperty("count").GetInt64(), Is.GreaterThan(0));
        Assert.That(latency.GetProperty("p50Ms").GetDouble(), Is.GreaterThan(0).And.LessThanOrEqualTo(latency.GetProperty("p99Ms").GetDouble()));
        Assert.That(latency.GetProperty("p99Ms").GetDouble(), Is.LessThanOrEqualTo(latency.GetProperty("maxMs").GetDouble()));
        Assert.That(step.GetProperty("brokerCpuMicrosecondsPerFrame").GetDouble(), Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public async Task ConnectionsScenario_OpensEveryConnection_AndReportsMemoryPerConnection()
    {
        var connections = (await RunAsync("connections")).GetProperty("connections");

        Assert.That(connections.GetProperty("established").GetInt32(), Is.EqualTo(connections.GetProperty("requested").GetInt32()).And.GreaterThan(0));
        Assert.That(connections.GetProperty("connectionsPerSecond").GetDouble(), Is.GreaterThan(0));
        Assert.That(connections.GetProperty("brokerRssAfterMiB").GetDouble(), Is.GreaterThan(0));
        Assert.That(connections.GetProperty("broadcastMissing").GetInt64(), Is.Zero);
    }

    [Test]
    public async Task IngestScenario_EveryLineIsAnsweredOk_OverTheBridgeAndHttp()
    {
        var modes = (await RunAsync("ingest")).GetProperty("ingest").GetProperty("modes").EnumerateArray().ToList();

        Assert.That(modes.Select(m => m.GetProperty("transport").GetString()), Is.SupersetOf(new[] { "tcp-bridge", "http" }));
        foreach (var mode in modes)
        {
            Assert.That(mode.GetProperty("allAnswered").GetBoolean(), Is.True, mode.GetProperty("name").GetString());
            Assert.That(mode.GetProperty("rejected").GetInt64(), Is.Zero);
            Assert.That(mode.GetProperty("acceptedPerSecond").GetDouble(), Is.GreaterThan(0));
        }
    }

    /// <summary>Runs one scenario in-process against a child broker built with this test run, and returns its JSON result.</summary>
    private async Task<JsonElement> RunAsync(string scenario)
    {
        var output = new StringWriter();
        var exitCode = await BenchProgram.RunAsync(
            [scenario, "--quick", "--broker-dll", Path.Combine(AppContext.BaseDirectory, "TopicBroker.dll"), "--results-dir", _results],
            output,
            CancellationToken.None).DefaultTimeout(TimeSpan.FromMinutes(2));

        Assert.That(exitCode, Is.EqualTo(BenchProgram.ExitPassed), output.ToString());
        var file = Directory.GetFiles(_results, $"{scenario}-*.json").Single();
        var result = JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement;
        Assert.That(result.GetProperty("passed").GetBoolean(), Is.True, output.ToString());
        return result;
    }
}
