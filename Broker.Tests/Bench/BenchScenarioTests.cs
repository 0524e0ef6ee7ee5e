using System.Text.Json;
using TopicBroker.Bench;
using TopicBroker.Tests.Infrastructure;

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

    [Test]
    public async Task PeersMode_RunsFanoutAndConnectionsOnEveryServer_WithZeroLoss()
    {
        await SystemPackages.RequireAsync("/usr/bin/node", "nodejs");
        await SystemPackages.RequireAsync("/usr/bin/npm", "npm");
        await InstallPeerPackagesAsync();

        var result = await RunAsync("peers");

        var runs = result.GetProperty("runs").EnumerateArray().ToList();
        Assert.That(runs.Select(r => r.GetProperty("peer").GetString()).Distinct(), Is.EquivalentTo(new[] { "topicbroker", "bun", "node" }));
        foreach (var run in runs)
        {
            var scenario = run.GetProperty("result");
            var peer = run.GetProperty("peer").GetString();
            Assert.That(scenario.GetProperty("passed").GetBoolean(), Is.True, peer);
            if (scenario.TryGetProperty("delivery", out var delivery))
            {
                var step = delivery.GetProperty("steps")[0];
                Assert.That(step.GetProperty("framesLost").GetInt64(), Is.Zero, peer);
                Assert.That(step.GetProperty("latency").GetProperty("count").GetInt64(), Is.GreaterThan(0), peer);
                Assert.That(step.GetProperty("brokerCpuMicrosecondsPerFrame").GetDouble(), Is.GreaterThanOrEqualTo(0), peer);
            }
            else
            {
                // A few hundred connections move RSS by less than a collection does: only its presence is checked.
                var connections = scenario.GetProperty("connections");
                Assert.That(connections.GetProperty("established").GetInt32(), Is.EqualTo(connections.GetProperty("requested").GetInt32()), peer);
                Assert.That(connections.GetProperty("brokerKiBPerConnection").ValueKind, Is.EqualTo(JsonValueKind.Number), peer);
            }
        }

        Assert.That(result.GetProperty("table").GetString(), Does.Contain("Bun").And.Contain("TopicBroker"));
    }

    /// <summary>bench/peers' npm packages (Bun's binary ships in the bun package), installed once from its lock file.</summary>
    private static async Task InstallPeerPackagesAsync()
    {
        var peers = Path.Combine(PublishedBroker.RepositoryRoot, "bench", "peers");
        if (File.Exists(Path.Combine(peers, "node_modules", ".bin", "bun")) && File.Exists(Path.Combine(peers, "node_modules", "ws", "package.json")))
        {
            return;
        }

        var npm = await CommandRun.RunAsync(ServerProcess.CreateStartInfo("npm", ["ci", "--no-audit", "--no-fund"], peers), TimeSpan.FromMinutes(5));
        Assert.That(npm.ExitCode, Is.Zero, $"npm ci in {peers} failed:\n{npm.Output}");
    }

    [Test]
    public async Task ChaosScenario_KillsAndRestartsTheBroker_AndFindsNoViolation()
    {
        // Seed 5: a SIGTERM and a SIGKILL within the half minute.
        var chaos = (await RunAsync("chaos", "--minutes", "0.5", "--seed", "5")).GetProperty("chaos");

        Assert.That(chaos.GetProperty("stops").GetInt32(), Is.GreaterThanOrEqualTo(2));
        Assert.That(chaos.GetProperty("restarts").GetInt32(), Is.EqualTo(chaos.GetProperty("stops").GetInt32()));
        Assert.That(chaos.GetProperty("ackedBridge").GetInt64(), Is.GreaterThan(0));
        Assert.That(chaos.GetProperty("ackedHttp").GetInt64(), Is.GreaterThan(0));
        Assert.That(chaos.GetProperty("framesChecked").GetInt64(), Is.GreaterThan(0));
        Assert.That(chaos.GetProperty("resumes").GetInt64(), Is.GreaterThan(0));
        Assert.That(chaos.GetProperty("malformedDocumented").GetInt64(), Is.GreaterThan(0));
        Assert.That(chaos.GetProperty("violations").GetInt64(), Is.Zero, string.Join("\n", chaos.GetProperty("violationSamples").EnumerateArray()));
    }

    [Test]
    public async Task ClusterScenario_TwoNodesOnPostgresAndRedis_EverySubscriberGetsEverySeqOnceInOrder()
    {
        await SystemPackages.RequireAsync("/usr/lib/postgresql/15/bin/postgres", "postgresql");
        await SystemPackages.RequireAsync("/usr/bin/redis-server", "redis-server");

        var cluster = (await RunAsync("cluster")).GetProperty("cluster");

        Assert.That(cluster.GetProperty("nodes").GetInt32(), Is.EqualTo(2));
        Assert.That(cluster.GetProperty("ackedPerSecondPerNode").EnumerateArray().Select(a => a.GetDouble()), Has.All.GreaterThan(0));
        Assert.That(cluster.GetProperty("rejected").GetInt64(), Is.Zero);
        Assert.That(cluster.GetProperty("allAnswered").GetBoolean(), Is.True);
        Assert.That(cluster.GetProperty("drained").GetBoolean(), Is.True);
        Assert.That(cluster.GetProperty("framesChecked").GetInt64(), Is.GreaterThan(0));
        Assert.That(cluster.GetProperty("framesLost").GetInt64(), Is.Zero);
        Assert.That(cluster.GetProperty("duplicates").GetInt64(), Is.Zero);
        Assert.That(cluster.GetProperty("outOfOrder").GetInt64(), Is.Zero);
        foreach (var route in new[] { "sameNodeLatency", "crossNodeLatency" })
        {
            var latency = cluster.GetProperty(route);
            Assert.That(latency.GetProperty("count").GetInt64(), Is.GreaterThan(0), route);
            Assert.That(latency.GetProperty("p50Ms").GetDouble(), Is.GreaterThan(0).And.LessThanOrEqualTo(latency.GetProperty("p99Ms").GetDouble()), route);
        }
    }

    /// <summary>Runs one scenario in-process against a child broker built with this test run, and returns its JSON result.</summary>
    private async Task<JsonElement> RunAsync(string scenario, params string[] extra)
    {
        var output = new StringWriter();
        var exitCode = await BenchProgram.RunAsync(
            [scenario, "--quick", "--broker-dll", Path.Combine(AppContext.BaseDirectory, "TopicBroker.dll"), "--results-dir", _results, .. extra],
            output,
            CancellationToken.None).DefaultTimeout(TimeSpan.FromMinutes(2));

        Assert.That(exitCode, Is.EqualTo(BenchProgram.ExitPassed), output.ToString());
        var file = Directory.GetFiles(_results, $"{scenario}-*.json").Single();
        var result = JsonDocument.Parse(await File.ReadAllTextAsync(file)).RootElement;
        Assert.That(result.GetProperty("passed").GetBoolean(), Is.True, output.ToString());
        return result;
    }
}
