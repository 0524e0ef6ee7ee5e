using System.CommandLine;
using System.CommandLine.Parsing;
using TopicBroker.Bench.Scenarios;

namespace TopicBroker.Bench.Options;

/// <summary>
/// The command line on System.CommandLine: one subcommand per registered scenario
/// (<see cref="ScenarioCatalog"/>) plus <c>all</c>; the options every scenario reads are
/// recursive on the root, so they may stand before or after the scenario, as they always could.
/// A scenario's own options live in its file and are added to its subcommand only.
/// The tree is built once; parsing does not change it.
/// </summary>
internal static class BenchCommandLine
{
    public const string AllCommand = "all";

    /// <summary>Not a scenario but a comparison that runs scenarios against several servers (PeersComparison).</summary>
    public const string PeersCommand = "peers";

    // Common options.
    public static readonly Option<bool> Quick = Flag("--quick", "tiny sizes, about 1-2 s per scenario (for tests and smoke runs)");
    public static readonly Option<double?> Duration = Positive("--duration", "<s>", "measured seconds (per sweep step / per ingest mode)");
    public static readonly Option<double?> Warmup = NonNegative("--warmup", "<s>", "seconds of traffic before measuring");
    public static readonly Option<int?> PayloadBytes = PositiveInt("--payload-bytes", "<n>", "size of an update's data object (default 200)", max: 16 * 1024);
    public static readonly Option<int?> SendQueue = PositiveInt("--send-queue", "<n>", "Broker:SendQueueCapacity for a broker the tool starts (default: the broker's own)");
    public static readonly Option<string?> ResultsDir = Text("--results-dir", "<dir>", "where JSON/SVG results go (default <repo>/bench/results)");
    public static readonly Option<int?> PerAddress = PositiveInt(
        "--per-address", "<n>", "subscriber sockets per source address 127.0.0.2, .3, ... (default 1000, the broker's Broker:MaxConnectionsPerAddress)", max: 20_000);

    // The broker under test.
    public static readonly Option<string?> BrokerDll = Text("--broker-dll", "<path>", "the TopicBroker.dll to start (default Broker/bin/Release/net10.0/TopicBroker.dll)");
    public static readonly Option<string[]> BrokerArg = Repeatable("--broker-arg", "<Key=Value>", "extra configuration for the started broker, repeatable (e.g. Broker:Synchronous=Normal)");
    public static readonly Option<Uri?> Url = Recursive(new Option<Uri?>("--url")
    {
        HelpName = "http://host:port",
        Description = "use a running broker instead (loopback only)",
        CustomParser = result =>
        {
            var text = result.Tokens.Single().Value;
            if (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme == Uri.UriSchemeHttp)
            {
                return url;
            }

            result.AddError($"--url expects http://host:port, got '{text}'.");
            return null;
        },
    });

    public static readonly Option<string?> Bridge = Text("--bridge", "<host:port>", "the running broker's TCP bridge (default port 5001); needs --url");
    public static readonly Option<int?> BrokerPid = PositiveInt("--broker-pid", "<pid>", "the running broker's process id, to report its CPU and memory");

    // Authentication (protocol.md "Security").
    public static readonly Option<bool> Auth = Flag("--auth", "start the broker with a random Broker:Auth:SigningKey and use tokens everywhere");
    public static readonly Option<string?> SigningKey = Text("--signing-key", "<key>", "the broker's signing key: the tool mints its own token (all topics, 6 h)");
    public static readonly Option<string?> Token = Text("--token", "<jwt>", "a ready token with subscribe and publish rights on the topics used");

    // fanout / topics.
    public static readonly Option<double?> Rate = Positive("--rate", "<n>", "updates per second in total (fanout default 500, topics default 2000, cluster default unthrottled)");
    public static readonly Option<int?> Subscribers = PositiveInt("--subscribers", "<n>", "fanout subscribers (default 1000); cluster: per topic per node (default 2)");
    public static readonly Option<string?> Topic = Text("--topic", "<a,b,..>", "topic(s): fanout/ingest use the first (default robots); connections spreads over all");
    public static readonly Option<bool> Sweep = Flag("--sweep", "fanout: step the rate up until p99 exceeds --p99-limit-ms twice in a row, delivery < 95%, or a loss; writes an SVG chart");
    public static readonly Option<string?> SweepRates = Text("--sweep-rates", "<r1,r2,..>", "the rates to step through (implies --sweep)");
    public static readonly Option<double?> P99LimitMs = Positive("--p99-limit-ms", "<ms>", "sweep limit (default 50)");
    public static readonly Option<int?> Topics = PositiveInt("--topics", "<n>", "topics scenario: number of topics (default 1000); cluster (default 4)", max: 100_000);
    public static readonly Option<int?> SubscribersPerTopic = PositiveInt("--subscribers-per-topic", "<n>", "topics scenario (default 10)");
    public static readonly Option<int?> RecvBuffer = PositiveInt("--recv-buffer", "<bytes>", "receive buffer per subscriber socket (at least 1024)", max: 16 * 1024 * 1024, min: 1024);

    // connections.
    public static readonly Option<int?> Connections = PositiveInt("--connections", "<n>", "connections: idle subscribed connections (default 15000; the open-files limit applies)");
    public static readonly Option<int?> ConnectConcurrency = PositiveInt("--connect-concurrency", "<n>", "connections in flight at once (default 200)", max: 10_000);
    public static readonly Option<double?> Hold = NonNegative("--hold", "<s>", "connections: seconds to hold them open and measure idle broker CPU (default 5)");

    // ingest.
    public static readonly Option<int?> InFlight = PositiveInt("--inflight", "<n>", "ingest: unanswered bridge lines per connection (default 2048); cluster: per publisher (default 1024)", max: 1 << 20);
    public static readonly Option<string?> IngestConnections = Text("--ingest-connections", "<list>", "ingest: bridge connection counts to measure (default 1,4)");
    public static readonly Option<int?> HttpConcurrency = PositiveInt("--http-concurrency", "<n>", "ingest: concurrent HTTP publishes (default 16)", max: 1024);

    // peers (options of its subcommand only).
    public static readonly Option<string?> Peers = Text("--peers", "<a,b,..>", "servers to compare (default topicbroker,bun,node)");
    public static readonly Option<string?> Rates = Text("--rates", "<r1,r2,..>", "fanout rates, each on the same server (default 30,50,500,1500)");
    public static readonly Option<int?> Rounds = PositiveInt("--rounds", "<n>", "repeat, rotating the order of the servers (default 1)", max: 100);

    private static readonly Lazy<RootCommand> s_root = new(CreateRoot);

    public static RootCommand Root => s_root.Value;

    public static ParseResult Parse(IReadOnlyList<string> args) => Root.Parse(args);

    private static RootCommand CreateRoot()
    {
        var root = new RootCommand(
            "TopicBroker's load generator: starts the broker as a child process (or targets a running one on loopback), " +
            "drives it, prints a table and writes JSON under bench/results/. " +
            "Exit codes: 0 passed, 1 a check failed, 2 bad command line, 3 setup failed, 130 cancelled.");
        Option[] common =
        [
            Quick, Duration, Warmup, PayloadBytes, SendQueue, ResultsDir, PerAddress,
            BrokerDll, BrokerArg, Url, Bridge, BrokerPid,
            Auth, SigningKey, Token,
            Rate, Subscribers, Topic, Sweep, SweepRates, P99LimitMs, Topics, SubscribersPerTopic, RecvBuffer,
            Connections, ConnectConcurrency, Hold,
            InFlight, IngestConnections, HttpConcurrency,
        ];
        foreach (var option in common)
        {
            root.Add(option);
        }

        foreach (var scenario in ScenarioCatalog.All)
        {
            var command = new Command(scenario.Name, scenario.Description);
            foreach (var option in scenario.Options)
            {
                command.Add(option);
            }

            root.Add(command);
        }

        root.Add(new Command(PeersCommand, "fanout and connections against TopicBroker, Bun and Node+ws (bench/peers/, npm ci there first)") { Peers, Rates, Rounds });
        root.Add(new Command(AllCommand, "each scenario marked for it, with its defaults (each on a fresh broker), then one summary table: " +
            string.Join(", ", ScenarioCatalog.All.Where(s => s.InAll).Select(s => s.Name))));
        return root;
    }

    public static Option<bool> Flag(string name, string description) =>
        Recursive(new Option<bool>(name) { Description = description, Arity = ArgumentArity.Zero });

    public static Option<string?> Text(string name, string helpName, string description) =>
        Recursive(new Option<string?>(name) { HelpName = helpName.Trim('<', '>'), Description = description });

    public static Option<string[]> Repeatable(string name, string helpName, string description) =>
        Recursive(new Option<string[]>(name) { HelpName = helpName.Trim('<', '>'), Description = description, Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false });

    public static Option<double?> Positive(string name, string helpName, string description) =>
        Number(name, helpName, description, value => value > 0, "a positive number");

    public static Option<double?> NonNegative(string name, string helpName, string description) =>
        Number(name, helpName, description, value => value >= 0, "a number >= 0");

    public static Option<int?> PositiveInt(string name, string helpName, string description, int max = 10_000_000, int min = 1)
    {
        var option = new Option<int?>(name) { HelpName = helpName.Trim('<', '>'), Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } value && (value < min || value > max))
            {
                result.AddError($"{name} expects a whole number from {min} to {max}, got '{value}'.");
            }
        });
        return Recursive(option);
    }

    private static Option<double?> Number(string name, string helpName, string description, Func<double, bool> valid, string expected)
    {
        var option = new Option<double?>(name) { HelpName = helpName.Trim('<', '>'), Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is { } value && (!double.IsFinite(value) || !valid(value)))
            {
                result.AddError($"{name} expects {expected}, got '{value}'.");
            }
        });
        return Recursive(option);
    }

    /// <summary>Options that every scenario reads may stand anywhere on the line.</summary>
    private static T Recursive<T>(T option)
        where T : Option
    {
        option.Recursive = true;
        return option;
    }
}
