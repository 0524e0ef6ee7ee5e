using System.Text.Json.Nodes;
using RobotBridge.Simulation;
using TopicBroker.Client.Bridge;

namespace TopicBroker.Tests.Clients;

/// <summary>
/// The .NET client's <see cref="BridgePublisher"/> (clients/dotnet), fed by RobotBridge's
/// simulation, against real brokers that restart on the same bridge port and database: nothing
/// it publishes is lost.
/// </summary>
public sealed class BridgePublisherTests
{
    private static readonly string[] s_topics = [Restaurant.RobotsTopic, Restaurant.TablesTopic, Restaurant.OrdersTopic];

    private string _directory = null!;
    private int _bridgePort;
    private ClientLog _log = null!;
    private BridgePublisher _client = null!;
    private CancellationTokenSource _stopClient = null!;
    private Task? _clientRun;

    [SetUp]
    public void SetUp()
    {
        _directory = Directory.CreateTempSubdirectory("topicbroker-bridgeclient-").FullName;
        // The first broker of a test binds port 0; the client and the next broker use the port it got.
        _bridgePort = 0;
        _log = new ClientLog();
        _stopClient = new CancellationTokenSource();
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        await _stopClient.CancelAsync();
        if (_clientRun is not null)
        {
            await _clientRun.DefaultTimeout();
        }

        _stopClient.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Test]
    public async Task Publisher_BrokerRestartsGracefully_LinesPublishedWhileAwayReachTheNextBrokerOnce()
    {
        var restaurant = new Restaurant(4, new Random(5));
        var expected = new ExpectedState();
        await using (var first = await BrokerHost.StartAsync(BridgeSettings(), _directory))
        {
            _bridgePort = first.BridgeEndPoint.Port;
            StartClient();
            await PublishAsync(expected, ReportAll(restaurant));
            await WaitAllAnsweredAsync();
            await first.StopAsync();
        }

        // The client has lost its connection: what follows is queued, not sent to the stopped broker.
        await _log.WaitForAsync("reconnecting in");
        var whileAway = Steps(restaurant, count: 40);
        await PublishAsync(expected, whileAway);
        Assert.That(_client.Unacked, Is.EqualTo(whileAway.Count));

        await using var second = await BrokerHost.StartAsync(BridgeSettings(), _directory);
        await WaitAllAnsweredAsync();

        await expected.AssertMatchesAsync(second);
        Assert.That(_client.Reconnects, Is.GreaterThanOrEqualTo(1), _log.ToString());
        Assert.That(_client.Acked, Is.EqualTo(expected.LinesPublished));
        // A graceful broker answers every line it has read before it closes, so nothing went twice.
        Assert.That(_client.Resent, Is.Zero, _log.ToString());
        Assert.That(_client.Sent, Is.EqualTo(expected.LinesPublished));
    }

    [Test]
    public async Task Publisher_BrokerDiesWithLinesUnanswered_ResendsThemToTheRestartedBroker()
    {
        var restaurant = new Restaurant(4, new Random(9));
        var expected = new ExpectedState();
        var unanswered = Steps(restaurant, count: 40);
        await using (var first = await BrokerProcess.StartAsync(_directory))
        {
            _bridgePort = first.BridgeEndPoint.Port;
            // How soon the client gives up on a broker that stopped answering: far below the
            // default 30 s to keep the test short. A broker slower than that only causes more resends.
            StartClient(answerTimeout: TimeSpan.FromMilliseconds(400));
            await PublishAsync(expected, ReportAll(restaurant));
            await WaitAllAnsweredAsync();

            // The broker hangs (SIGSTOP): the kernel still takes the client's bytes, nobody reads
            // them. Once the client reports an unanswered line, the broker dies without a word.
            PosixSignals.Send(first.ProcessId, PosixSignals.Stop);
            var logged = _log.Count;
            await PublishAsync(expected, unanswered);
            await _log.WaitForAsync("presuming the connection dead", logged);
            await first.KillAsync();
        }

        await using var second = await BrokerHost.StartAsync(BridgeSettings(), _directory);
        await WaitAllAnsweredAsync();

        await expected.AssertMatchesAsync(second);
        Assert.That(_client.Resent, Is.GreaterThanOrEqualTo(unanswered.Count), _log.ToString());
        Assert.That(_client.Reconnects, Is.GreaterThanOrEqualTo(1));
        Assert.That(_client.Acked, Is.EqualTo(expected.LinesPublished), "every line answered exactly once, by one broker or the other");
    }

    [Test]
    public async Task Publisher_WithToken_AuthenticatesEveryConnection_AndALineOutsideItsGrantsIsDropped()
    {
        var tokensAsked = 0;
        var logged = 0;
        await using (var first = await BrokerHost.StartAsync(TestTokens.AuthSettings(BridgeSettings()), _directory))
        {
            _bridgePort = first.BridgeEndPoint.Port;
            StartClient(accessToken: _ =>
            {
                Interlocked.Increment(ref tokensAsked);
                return ValueTask.FromResult(TestTokens.Create(publish: ["robots"]));
            });
            await _client.PublishAsync("robots", "robot-1", new JsonObject { ["battery"] = 90 }).DefaultTimeout();
            await _client.PublishAsync("tables", "T1", new JsonObject { ["state"] = "free" }).DefaultTimeout();
            await WaitAllAnsweredAsync();
            logged = _log.Count;
            await first.StopAsync();
        }

        await _log.WaitForAsync("reconnecting in", logged);
        await _client.PublishAsync("robots", "robot-1", new JsonObject { ["battery"] = 89 }).DefaultTimeout();
        await using var second = await BrokerHost.StartAsync(TestTokens.AuthSettings(BridgeSettings()), _directory);
        await WaitAllAnsweredAsync();

        Assert.That((_client.Acked, _client.Rejected), Is.EqualTo((2, 1)), _log.ToString());
        Assert.That(_log.ToString(), Does.Contain("rejected and dropped: forbidden"));
        Assert.That(tokensAsked, Is.GreaterThanOrEqualTo(2), "a token for each connection");
        Assert.That(_client.LastSeq, Is.EqualTo(await second.PublishAsync("robots", "robot-2", "{}") - 1));
    }

    private void StartClient(TimeSpan? answerTimeout = null, Func<CancellationToken, ValueTask<string>>? accessToken = null)
    {
        _client = new BridgePublisher(new BridgePublisherOptions
        {
            Port = _bridgePort,
            AccessToken = accessToken,
            // Back within a fraction of a second once the next broker listens.
            InitialBackoff = TimeSpan.FromMilliseconds(20),
            MaxBackoff = TimeSpan.FromMilliseconds(200),
            AnswerTimeout = answerTimeout ?? new BridgePublisherOptions().AnswerTimeout,
            Logger = _log,
        });
        _clientRun = _client.RunAsync(_stopClient.Token);
    }

    private async Task WaitAllAnsweredAsync()
    {
        try
        {
            await _client.WaitAllAckedAsync(CancellationToken.None).DefaultTimeout();
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{_client.Unacked} lines still unanswered; the client's log:\n{_log}");
        }
    }

    private Dictionary<string, string?> BridgeSettings() => new()
    {
        ["Broker:TcpBridge:Port"] = _bridgePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private async Task PublishAsync(ExpectedState expected, List<EntityChange> changes)
    {
        foreach (var change in changes)
        {
            if (change.Data is null)
            {
                await _client.PublishDeleteAsync(change.Topic, change.Id).DefaultTimeout();
            }
            else
            {
                await _client.PublishAsync(change.Topic, change.Id, change.Data).DefaultTimeout();
            }

            expected.Apply(change);
        }
    }

    private static List<EntityChange> ReportAll(Restaurant restaurant)
    {
        var changes = new List<EntityChange>();
        restaurant.ReportAll(changes);
        return changes;
    }

    /// <summary>Simulated seconds of the restaurant until it has reported at least <paramref name="count"/> changes.</summary>
    private static List<EntityChange> Steps(Restaurant restaurant, int count)
    {
        var changes = new List<EntityChange>();
        var now = new DateTimeOffset(2025, 11, 21, 19, 0, 0, TimeSpan.Zero);
        for (var second = 0; changes.Count < count; second++)
        {
            if (second == 3600)
            {
                Assert.Fail("the simulation stood still for an hour");
            }

            restaurant.Step(TimeSpan.FromSeconds(1), now.AddSeconds(second), changes);
        }

        return changes;
    }

    /// <summary>Every entity as the client's lines leave it, to compare with what a broker holds.</summary>
    private sealed class ExpectedState
    {
        private readonly Dictionary<string, Dictionary<string, JsonObject>> _topics = s_topics.ToDictionary(t => t, _ => new Dictionary<string, JsonObject>());

        public int LinesPublished { get; private set; }

        public void Apply(EntityChange change)
        {
            LinesPublished++;
            if (change.Data is null)
            {
                _topics[change.Topic].Remove(change.Id);
            }
            else
            {
                _topics[change.Topic][change.Id] = (JsonObject)change.Data.DeepClone();
            }
        }

        public async Task AssertMatchesAsync(BrokerHost broker)
        {
            using var http = broker.CreateHttpClient();
            foreach (var (topic, entities) in _topics)
            {
                var snapshot = JsonNode.Parse(await http.GetStringAsync($"/api/topics/{topic}").DefaultTimeout())!;
                var data = snapshot["data"]!.AsObject();
                Assert.That(data.Select(p => p.Key), Is.EquivalentTo(entities.Keys), $"{topic}: ids");
                foreach (var (id, value) in entities)
                {
                    Assert.That(JsonNode.DeepEquals(data[id], value), Is.True, $"{topic}/{id}: the broker holds {data[id]?.ToJsonString()}, the last line sent {value.ToJsonString()}");
                }
            }
        }
    }
}
