using System.Globalization;

namespace RobotBridge;

/// <summary>The command line: <c>--name value</c> or <c>--name=value</c>.</summary>
internal sealed record CommandLineOptions
{
    public const string Usage = """
        Usage: RobotBridge [options]

          --robots <n>      robots to simulate (1-200)                default 5
          --rate <hz>       simulation steps per second (0.1-1000)     default 10
          --host <address>  broker's TCP bridge address                default 127.0.0.1
          --port <port>     broker's TCP bridge port                   default 5001
          --duration <s>    seconds to run, 0 for until Ctrl+C         default 0
          --seed <n>        random seed, for a repeatable run          default random
          --help            show this text
        """;

    public int Robots { get; private init; } = 5;

    public double Rate { get; private init; } = 10;

    public string Host { get; private init; } = "127.0.0.1";

    public int Port { get; private init; } = 5001;

    public TimeSpan Duration { get; private init; } = TimeSpan.Zero;

    public int? Seed { get; private init; }

    public bool ShowHelp { get; private init; }

    public static bool TryParse(IReadOnlyList<string> args, out CommandLineOptions options, out string error)
    {
        options = new CommandLineOptions();
        error = "";
        for (var i = 0; i < args.Count; i++)
        {
            var (name, value) = SplitArgument(args[i]);
            if (name is "--help" or "-h")
            {
                options = options with { ShowHelp = true };
                continue;
            }

            if (name is not ("--robots" or "--rate" or "--host" or "--port" or "--duration" or "--seed"))
            {
                error = $"Unknown option '{name}'.";
                return false;
            }

            if (value is null)
            {
                if (i + 1 >= args.Count)
                {
                    error = $"{name} needs a value.";
                    return false;
                }

                value = args[++i];
            }

            switch (name)
            {
                case "--robots" when TryInt(value, 1, 200, out var robots):
                    options = options with { Robots = robots };
                    break;
                case "--rate" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate is >= 0.1 and <= 1000:
                    options = options with { Rate = rate };
                    break;
                case "--host" when value.Length > 0:
                    options = options with { Host = value };
                    break;
                case "--port" when TryInt(value, 1, 65535, out var port):
                    options = options with { Port = port };
                    break;
                case "--duration" when TryInt(value, 0, int.MaxValue, out var seconds):
                    options = options with { Duration = TimeSpan.FromSeconds(seconds) };
                    break;
                case "--seed" when TryInt(value, int.MinValue, int.MaxValue, out var seed):
                    options = options with { Seed = seed };
                    break;
                default:
                    error = $"{name}: '{value}' is not a valid value.";
                    return false;
            }
        }

        return true;
    }

    private static (string Name, string? Value) SplitArgument(string argument)
    {
        var equals = argument.IndexOf('=', StringComparison.Ordinal);
        return argument.StartsWith("--", StringComparison.Ordinal) && equals > 0
            ? (argument[..equals], argument[(equals + 1)..])
            : (argument, null);
    }

    private static bool TryInt(string text, int min, int max, out int value) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
}
