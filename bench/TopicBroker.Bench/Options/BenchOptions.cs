using System.CommandLine;
using System.Globalization;

namespace TopicBroker.Bench.Options;

/// <summary>
/// The command line, parsed by System.CommandLine (<see cref="BenchCommandLine"/>). Values a user
/// did not give stay null; each scenario owns its defaults (normal and <c>--quick</c>) so they are
/// named and explained in one place.
/// </summary>
internal sealed class BenchOptions
{
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

    /// <summary>The parse this came from, for the options a scenario declares in its own file (<see cref="Get{T}"/>).</summary>
    public ParseResult? ParseResult { get; private set; }

    /// <summary>The value of an option a scenario declared itself (ScenarioDefinition.Options), or its default.</summary>
    public T? Get<T>(Option<T> option) => ParseResult is null ? default : ParseResult.GetValue(option);

    public static bool TryParse(IReadOnlyList<string> args, out BenchOptions options, out string? error)
    {
        var parse = BenchCommandLine.Parse(args);
        options = new BenchOptions { RawArguments = Redact(args), ParseResult = parse };
        error = null;
        // --help and --version carry their own action; a scenario's subcommand has none.
        if (parse.Errors.Count == 0 && parse.Action is not null)
        {
            options.ShowHelp = true;
            return true;
        }

        if (parse.Errors.Count > 0)
        {
            error = string.Join(Environment.NewLine + "error: ", parse.Errors.Select(e => e.Message));
            return false;
        }

        try
        {
            options.Read(parse);
            return true;
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    /// <summary>Runs what --help or --version asks for (the root's help or a scenario's), writing to <paramref name="output"/>.</summary>
    public static void WriteHelp(IReadOnlyList<string> args, TextWriter output)
    {
        var parse = BenchCommandLine.Parse(args);
        if (parse.Errors.Count > 0 || parse.Action is null)
        {
            parse = BenchCommandLine.Parse(["--help"]);
        }

        parse.Invoke(new InvocationConfiguration { Output = output, Error = output });
    }

    private void Read(ParseResult parse)
    {
        Scenario = parse.CommandResult.Command.Name;
        Quick = parse.GetValue(BenchCommandLine.Quick);
        Sweep = parse.GetValue(BenchCommandLine.Sweep);
        DurationSeconds = parse.GetValue(BenchCommandLine.Duration);
        WarmupSeconds = parse.GetValue(BenchCommandLine.Warmup);
        PayloadBytes = parse.GetValue(BenchCommandLine.PayloadBytes);
        SendQueueCapacity = parse.GetValue(BenchCommandLine.SendQueue);
        ResultsDirectory = parse.GetValue(BenchCommandLine.ResultsDir);
        BrokerDll = parse.GetValue(BenchCommandLine.BrokerDll);
        foreach (var brokerArgument in parse.GetValue(BenchCommandLine.BrokerArg) ?? [])
        {
            if (!brokerArgument.Contains('=', StringComparison.Ordinal))
            {
                throw new FormatException($"--broker-arg expects Key=Value, got '{brokerArgument}'.");
            }

            BrokerArguments.Add(brokerArgument.StartsWith("--", StringComparison.Ordinal) ? brokerArgument : "--" + brokerArgument);
        }

        Url = parse.GetValue(BenchCommandLine.Url);
        Bridge = parse.GetValue(BenchCommandLine.Bridge);
        BrokerPid = parse.GetValue(BenchCommandLine.BrokerPid);
        Auth = parse.GetValue(BenchCommandLine.Auth);
        SigningKey = parse.GetValue(BenchCommandLine.SigningKey);
        Token = parse.GetValue(BenchCommandLine.Token);
        Rate = parse.GetValue(BenchCommandLine.Rate);
        Subscribers = parse.GetValue(BenchCommandLine.Subscribers);
        if (parse.GetValue(BenchCommandLine.Topic) is { } topics)
        {
            TopicNames = topics.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (TopicNames.Count == 0)
            {
                throw new FormatException("--topic needs at least one topic name.");
            }
        }

        if (parse.GetValue(BenchCommandLine.SweepRates) is { } rates)
        {
            SweepRates = [.. rates.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => PositiveDouble("sweep-rates", r))];
            Sweep = true;
        }

        P99LimitMs = parse.GetValue(BenchCommandLine.P99LimitMs);
        TopicCount = parse.GetValue(BenchCommandLine.Topics);
        SubscribersPerTopic = parse.GetValue(BenchCommandLine.SubscribersPerTopic);
        ReceiveBufferBytes = parse.GetValue(BenchCommandLine.RecvBuffer);
        Connections = parse.GetValue(BenchCommandLine.Connections);
        ConnectConcurrency = parse.GetValue(BenchCommandLine.ConnectConcurrency);
        PerAddress = parse.GetValue(BenchCommandLine.PerAddress);
        HoldSeconds = parse.GetValue(BenchCommandLine.Hold);
        InFlight = parse.GetValue(BenchCommandLine.InFlight);
        if (parse.GetValue(BenchCommandLine.IngestConnections) is { } counts)
        {
            IngestConnections = [.. counts.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(c => PositiveInt("ingest-connections", c, max: 256))];
        }

        HttpConcurrency = parse.GetValue(BenchCommandLine.HttpConcurrency);
        if (parse.GetValue(BenchCommandLine.Peers) is { } peers)
        {
            Peers = peers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (Peers.Count == 0 || Peers.Any(p => !Hosting.PeerNames.All.Contains(p)))
            {
                throw new FormatException($"--peers takes {string.Join(",", Hosting.PeerNames.All)}.");
            }
        }

        if (parse.GetValue(BenchCommandLine.Rates) is { } peerRates)
        {
            Rates = [.. peerRates.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => PositiveDouble("rates", r))];
        }

        Rounds = parse.GetValue(BenchCommandLine.Rounds);

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

    private static int PositiveInt(string name, string text, int max = 10_000_000)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0 || value > max)
        {
            throw new FormatException($"--{name} expects a whole number from 1 to {max}, got '{text}'.");
        }

        return value;
    }
}
