using System.Globalization;

namespace TopicBroker.Bench.Options;

/// <summary>
/// The command line, parsed. Values a user did not give stay null; each scenario owns its
/// defaults (normal and <c>--quick</c>) so they are named and explained in one place.
/// </summary>
internal sealed class BenchOptions
{
    public static readonly IReadOnlyList<string> Scenarios = ["fanout", "topics", "connections", "ingest", "all", "peers"];

    public const string Usage = """
        usage: dotnet run -c Release --project bench/TopicBroker.Bench -- <scenario> [options]

        scenarios:
          fanout       1 topic, many subscribers, publisher on the TCP bridge at a fixed rate (or --sweep)
          topics       many topics with few subscribers each, fixed total rate
          connections  many idle subscribed connections: connect rate and broker memory per connection
          ingest       acked updates/s over the TCP bridge (1 and 4 connections) and over HTTP publish
          all          each of the above with its defaults, then one summary table
          peers        fanout and connections against TopicBroker, Bun and Node+ws (bench/peers/, npm ci there first)

        common options:
          --quick                   tiny sizes, about 1-2 s per scenario (for tests and smoke runs)
          --duration <s>            measured seconds (per sweep step / per ingest mode)
          --warmup <s>              seconds of traffic before measuring
          --payload-bytes <n>       size of an update's data object (default 200)
          --send-queue <n>          Broker:SendQueueCapacity for a broker the tool starts (default: the broker's own)
          --results-dir <dir>       where JSON/SVG results go (default <repo>/bench/results)
          --per-address <n>         subscriber sockets per source address 127.0.0.2, .3, ... in every scenario
                                    (default 1000, the broker's default Broker:MaxConnectionsPerAddress; at most 20000)

        broker under test (default: start Broker/bin/Release/net10.0/TopicBroker.dll as a child process):
          --broker-dll <path>       the TopicBroker.dll to start
          --broker-arg <Key=Value>  extra configuration for the started broker, repeatable (e.g. Broker:Synchronous=Normal)
          --url <http://host:port>  use a running broker instead (loopback only) ...
          --bridge <host:port>      ... and its TCP bridge (default port 5001)
          --broker-pid <pid>        ... and its process id, to report its CPU and memory

        authentication (protocol.md "Security"; default: none, the broker runs open on loopback):
          --auth                    start the broker with a random Broker:Auth:SigningKey and use tokens everywhere
          --signing-key <key>       the broker's signing key: the tool mints its own token (all topics, 6 h)
          --token <jwt>             a ready token with subscribe and publish rights on the topics used

        fanout / topics:
          --rate <n>                updates per second in total (fanout default 500, topics default 2000)
          --subscribers <n>         fanout subscribers (default 1000)
          --topic <name>            fanout topic (default robots)
          --sweep                   fanout: step the rate up (50 .. 8000 updates/s) until p99 exceeds --p99-limit-ms in two
                                    steps in a row, the broker delivers < 95% of the offered frames, or a frame is lost;
                                    writes an SVG chart of p50/p99 vs offered rate
          --sweep-rates <r1,r2,..>  the rates to step through (implies --sweep)
          --p99-limit-ms <ms>       sweep limit (default 50)
          --topics <n>              topics scenario: number of topics (default 1000)
          --subscribers-per-topic <n>  topics scenario (default 10)
          --recv-buffer <bytes>     receive buffer per subscriber socket

        connections:
          --connections <n>         idle subscribed connections (default 15000; the open-files limit applies)
          --topic <a,b,..>          topics to spread them over (default events,status,customers,inventory)
          --connect-concurrency <n> connections in flight at once (default 200)
          --hold <s>                seconds to hold them open and measure idle broker CPU (default 5)

        peers:
          --peers <a,b,..>          servers to compare (default topicbroker,bun,node)
          --rates <r1,r2,..>        fanout rates, each on the same server (default 30,50,500,1500)
          --rounds <n>              repeat, rotating the order of the servers (default 1)

        ingest:
          --inflight <n>            unanswered bridge lines per connection (default 2048)
          --ingest-connections <list>  bridge connection counts to measure (default 1,4)
          --http-concurrency <n>    concurrent HTTP publishes (default 16)
        """;

    public string Scenario { get; private set; } = string.Empty;

    public bool Quick { get; private set; }

    public bool ShowHelp { get; private set; }

    public double? DurationSeconds { get; private set; }

    public double? WarmupSeconds { get; private set; }

    public int? PayloadBytes { get; private set; }

    public int? SendQueueCapacity { get; private set; }

    public string? ResultsDirectory { get; private set; }

    public string? BrokerDll { get; private set; }

    public List<string> BrokerArguments { get; } = [];

    public Uri? Url { get; private set; }

    public string? Bridge { get; private set; }

    public int? BrokerPid { get; private set; }

    public bool Auth { get; private set; }

    public string? SigningKey { get; private set; }

    public string? Token { get; private set; }

    public double? Rate { get; private set; }

    public int? Subscribers { get; private set; }

    public IReadOnlyList<string>? TopicNames { get; private set; }

    public bool Sweep { get; private set; }

    public IReadOnlyList<double>? SweepRates { get; private set; }

    public double? P99LimitMs { get; private set; }

    public int? TopicCount { get; private set; }

    public int? SubscribersPerTopic { get; private set; }

    public int? ReceiveBufferBytes { get; private set; }

    public int? Connections { get; private set; }

    public int? ConnectConcurrency { get; private set; }

    public int? PerAddress { get; private set; }

    public double? HoldSeconds { get; private set; }

    public int? InFlight { get; private set; }

    public IReadOnlyList<int>? IngestConnections { get; private set; }

    public int? HttpConcurrency { get; private set; }

    public IReadOnlyList<string>? Peers { get; private set; }

    public IReadOnlyList<double>? Rates { get; private set; }

    public int? Rounds { get; private set; }

    /// <summary>The arguments as given, for the results file.</summary>
    public IReadOnlyList<string> RawArguments { get; private set; } = [];

    public static bool TryParse(IReadOnlyList<string> args, out BenchOptions options, out string? error)
    {
        options = new BenchOptions { RawArguments = Redact(args) };
        error = null;
        try
        {
            options.Parse(args);
            return true;
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    private void Parse(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (Scenario.Length > 0)
                {
                    throw new FormatException($"Unexpected argument '{arg}': the scenario is already '{Scenario}'.");
                }

                if (!Scenarios.Contains(arg))
                {
                    throw new FormatException($"Unknown scenario '{arg}'; expected one of {string.Join(", ", Scenarios)}.");
                }

                Scenario = arg;
                continue;
            }

            var name = arg[2..];
            string? inlineValue = null;
            var equals = name.IndexOf('=');
            if (equals >= 0)
            {
                inlineValue = name[(equals + 1)..];
                name = name[..equals];
            }

            string Value()
            {
                if (inlineValue is not null)
                {
                    return inlineValue;
                }

                if (i + 1 >= args.Count)
                {
                    throw new FormatException($"--{name} needs a value.");
                }

                return args[++i];
            }

            switch (name)
            {
                case "help":
                case "h":
                    ShowHelp = true;
                    break;
                case "quick":
                    Quick = true;
                    break;
                case "sweep":
                    Sweep = true;
                    break;
                case "duration":
                    DurationSeconds = PositiveDouble(name, Value());
                    break;
                case "warmup":
                    WarmupSeconds = NonNegativeDouble(name, Value());
                    break;
                case "payload-bytes":
                    PayloadBytes = PositiveInt(name, Value(), max: 16 * 1024);
                    break;
                case "send-queue":
                    SendQueueCapacity = PositiveInt(name, Value());
                    break;
                case "results-dir":
                    ResultsDirectory = Value();
                    break;
                case "broker-dll":
                    BrokerDll = Value();
                    break;
                case "broker-arg":
                    var brokerArgument = Value();
                    if (!brokerArgument.Contains('=', StringComparison.Ordinal))
                    {
                        throw new FormatException($"--broker-arg expects Key=Value, got '{brokerArgument}'.");
                    }

                    BrokerArguments.Add(brokerArgument.StartsWith("--", StringComparison.Ordinal) ? brokerArgument : "--" + brokerArgument);
                    break;
                case "url":
                    var urlText = Value();
                    if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttp)
                    {
                        throw new FormatException($"--url expects http://host:port, got '{urlText}'.");
                    }

                    Url = url;
                    break;
                case "bridge":
                    Bridge = Value();
                    break;
                case "auth":
                    Auth = true;
                    break;
                case "signing-key":
                    SigningKey = Value();
                    break;
                case "token":
                    Token = Value();
                    break;
                case "broker-pid":
                    BrokerPid = PositiveInt(name, Value());
                    break;
                case "rate":
                    Rate = PositiveDouble(name, Value());
                    break;
                case "subscribers":
                    Subscribers = PositiveInt(name, Value());
                    break;
                case "topic":
                    TopicNames = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (TopicNames.Count == 0)
                    {
                        throw new FormatException("--topic needs at least one topic name.");
                    }

                    break;
                case "sweep-rates":
                    SweepRates = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => PositiveDouble(name, r))];
                    Sweep = true;
                    break;
                case "p99-limit-ms":
                    P99LimitMs = PositiveDouble(name, Value());
                    break;
                case "topics":
                    TopicCount = PositiveInt(name, Value(), max: 100_000);
                    break;
                case "subscribers-per-topic":
                    SubscribersPerTopic = PositiveInt(name, Value());
                    break;
                case "recv-buffer":
                    ReceiveBufferBytes = PositiveInt(name, Value(), max: 16 * 1024 * 1024);
                    if (ReceiveBufferBytes < 1024)
                    {
                        throw new FormatException("--recv-buffer must be at least 1024 bytes.");
                    }

                    break;
                case "connections":
                    Connections = PositiveInt(name, Value());
                    break;
                case "connect-concurrency":
                    ConnectConcurrency = PositiveInt(name, Value(), max: 10_000);
                    break;
                case "per-address":
                    PerAddress = PositiveInt(name, Value(), max: 20_000);
                    break;
                case "hold":
                    HoldSeconds = NonNegativeDouble(name, Value());
                    break;
                case "inflight":
                    InFlight = PositiveInt(name, Value(), max: 1 << 20);
                    break;
                case "ingest-connections":
                    IngestConnections = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(c => PositiveInt(name, c, max: 256))];
                    break;
                case "http-concurrency":
                    HttpConcurrency = PositiveInt(name, Value(), max: 1024);
                    break;
                case "peers":
                    Peers = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (Peers.Count == 0 || Peers.Any(p => !Hosting.PeerNames.All.Contains(p)))
                    {
                        throw new FormatException($"--peers takes {string.Join(",", Hosting.PeerNames.All)}.");
                    }

                    break;
                case "rates":
                    Rates = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => PositiveDouble(name, r))];
                    break;
                case "rounds":
                    Rounds = PositiveInt(name, Value(), max: 100);
                    break;
                default:
                    throw new FormatException($"Unknown option --{name}. Run with --help for the list.");
            }
        }

        if (Scenario.Length == 0 && !ShowHelp)
        {
            throw new FormatException("No scenario given.");
        }

        if (Bridge is not null && Url is null)
        {
            throw new FormatException("--bridge needs --url too.");
        }

        if (Auth && Url is not null)
        {
            throw new FormatException("--auth starts the broker with a new key; for a running broker give --signing-key or --token.");
        }
    }

    /// <summary>The arguments for the results file, with keys and tokens blanked out.</summary>
    private static List<string> Redact(IReadOnlyList<string> args)
    {
        var redacted = new List<string>(args.Count);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--signing-key" or "--token" && i + 1 < args.Count)
            {
                redacted.Add(arg);
                redacted.Add("***");
                i++;
            }
            else if (arg.StartsWith("--signing-key=", StringComparison.Ordinal) || arg.StartsWith("--token=", StringComparison.Ordinal) ||
                     arg.Contains("SigningKey=", StringComparison.OrdinalIgnoreCase))
            {
                redacted.Add(arg[..(arg.IndexOf('=') + 1)] + "***");
            }
            else
            {
                redacted.Add(arg);
            }
        }

        return redacted;
    }

    private static double PositiveDouble(string name, string text)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0 || !double.IsFinite(value))
        {
            throw new FormatException($"--{name} expects a positive number, got '{text}'.");
        }

        return value;
    }

    private static double NonNegativeDouble(string name, string text)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || !double.IsFinite(value))
        {
            throw new FormatException($"--{name} expects a number >= 0, got '{text}'.");
        }

        return value;
    }

    private static int PositiveInt(string name, string text, int max = 10_000_000)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0 || value > max)
        {
            throw new FormatException($"--{name} expects a whole number from 1 to {max}, got '{text}'.");
        }

        return value;
    }
}
