using TopicBroker.Bench.Options;
using TopicBroker.Bench.Scenarios;

namespace TopicBroker.Tests.Bench;

/// <summary>The bench's command line on System.CommandLine keeps every documented form working.</summary>
public sealed class BenchCommandLineTests
{
    [Test]
    public void CommonOptions_StandBeforeOrAfterTheScenario()
    {
        Assert.That(BenchOptions.TryParse(["--quick", "fanout", "--rate", "250"], out var before, out var error), Is.True, error);
        Assert.That(BenchOptions.TryParse(["fanout", "--rate=250", "--quick"], out var after, out error), Is.True, error);

        Assert.That((before.Scenario, before.Quick, before.Rate), Is.EqualTo(("fanout", true, (double?)250)));
        Assert.That((after.Scenario, after.Quick, after.Rate), Is.EqualTo(("fanout", true, (double?)250)));
    }

    [Test]
    public void BrokerArg_IsRepeatable_AndKeepsItsEqualsSigns()
    {
        Assert.That(
            BenchOptions.TryParse(["ingest", "--broker-arg", "Broker:Synchronous=Normal", "--broker-arg=Broker:BatchSize=64", "--ingest-connections", "1,4"], out var options, out var error),
            Is.True,
            error);

        Assert.That(options.BrokerArguments, Is.EqualTo(new[] { "--Broker:Synchronous=Normal", "--Broker:BatchSize=64" }));
        Assert.That(options.IngestConnections, Is.EqualTo(new[] { 1, 4 }));
    }

    [Test]
    public void ListsAndSwitches_AreReadAsBefore()
    {
        Assert.That(BenchOptions.TryParse(["fanout", "--sweep-rates", "50,100", "--topic", "a, b", "--topics", "3"], out var options, out var error), Is.True, error);

        Assert.That(options.Sweep, Is.True, "--sweep-rates implies --sweep");
        Assert.That(options.SweepRates, Is.EqualTo(new[] { 50.0, 100.0 }));
        Assert.That(options.TopicNames, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(options.TopicCount, Is.EqualTo(3));
    }

    [Test]
    public void Peers_TakesItsOwnOptions()
    {
        Assert.That(BenchOptions.TryParse(["peers", "--quick", "--peers", "bun,node", "--rates", "30,50", "--rounds", "2"], out var options, out var error), Is.True, error);

        Assert.That((options.Scenario, options.Rounds), Is.EqualTo(("peers", (int?)2)));
        Assert.That(options.Peers, Is.EqualTo(new[] { "bun", "node" }));
        Assert.That(options.Rates, Is.EqualTo(new[] { 30.0, 50.0 }));
    }

    [Test]
    public void Durability_AlternatesFullAndNormal_EachRunOnItsOwnBrokerSetting()
    {
        Assert.That(BenchOptions.TryParse(["durability", "--rounds", "2", "--quick"], out var options, out var error), Is.True, error);

        var runs = ScenarioCatalog.Create(options);

        Assert.That(runs.Select(r => r.Name), Is.EqualTo(new[]
        {
            "ingest-full", "fanout-full", "ingest-normal", "fanout-normal",
            "ingest-normal", "fanout-normal", "ingest-full", "fanout-full",
        }));
        Assert.That(runs[0].BrokerConfiguration.ExtraArguments, Does.Contain("--Broker:Synchronous=Full"));
        Assert.That(runs[2].BrokerConfiguration.ExtraArguments, Does.Contain("--Broker:Synchronous=Normal"));
    }

    [TestCase("", TestName = "NoScenario")]
    [TestCase("fanout --rounds 2", TestName = "PeersOptionOnAScenario")]
    [TestCase("bogus", TestName = "UnknownScenario")]
    [TestCase("fanout --rate -3", TestName = "NegativeRate")]
    [TestCase("fanout --per-address 20001", TestName = "PerAddressOverItsMaximum")]
    [TestCase("fanout --nope", TestName = "UnknownOption")]
    [TestCase("fanout --bridge 127.0.0.1:5001", TestName = "BridgeWithoutUrl")]
    [TestCase("fanout --url ftp://127.0.0.1", TestName = "UrlThatIsNotHttp")]
    [TestCase("ingest --broker-arg NoEquals", TestName = "BrokerArgWithoutValue")]
    public void BadCommandLines_AreRefusedWithAReason(string commandLine)
    {
        var args = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(BenchOptions.TryParse(args, out _, out var error), Is.False);
        Assert.That(error, Is.Not.Empty);
    }

    [Test]
    public void Help_IsWrittenToTheGivenWriter_AndListsEveryScenario()
    {
        Assert.That(BenchOptions.TryParse(["--help"], out var options, out _), Is.True);
        using var output = new StringWriter();
        BenchOptions.WriteHelp(["--help"], output);

        Assert.That(options.ShowHelp, Is.True);
        Assert.That(output.ToString(), Does.Contain("fanout").And.Contain("topics").And.Contain("connections").And.Contain("ingest").And.Contain("all"));
    }
}
