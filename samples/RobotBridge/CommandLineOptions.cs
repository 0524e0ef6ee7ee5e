using System.CommandLine;
using System.CommandLine.Parsing;

namespace RobotBridge;

/// <summary>The command line, parsed by System.CommandLine (<c>--name value</c> or <c>--name=value</c>; <c>--help</c> lists them).</summary>
internal sealed record CommandLineOptions
{
    public int Robots { get; private init; } = 5;

    public double Rate { get; private init; } = 10;

    public string Host { get; private init; } = "127.0.0.1";

    public int Port { get; private init; } = 5001;

    public TimeSpan Duration { get; private init; } = TimeSpan.Zero;

    public int? Seed { get; private init; }

    /// <summary>The root command; its action gets the parsed options and the cancellation System.CommandLine passes.</summary>
    public static RootCommand CreateCommand(Func<CommandLineOptions, CancellationToken, Task<int>> run)
    {
        var defaults = new CommandLineOptions();
        var robots = InRange(new Option<int>("--robots") { Description = "robots to simulate (1-200)", DefaultValueFactory = _ => defaults.Robots }, 1, 200);
        var rate = InRange(new Option<double>("--rate") { Description = "simulation steps per second (0.1-1000)", DefaultValueFactory = _ => defaults.Rate }, 0.1, 1000);
        var host = new Option<string>("--host") { Description = "broker's TCP bridge address", DefaultValueFactory = _ => defaults.Host };
        host.Validators.Add(result =>
        {
            if (string.IsNullOrEmpty(result.GetValueOrDefault<string>()))
            {
                result.AddError("--host: an address is needed.");
            }
        });
        var port = InRange(new Option<int>("--port") { Description = "broker's TCP bridge port", DefaultValueFactory = _ => defaults.Port }, 1, 65535);
        var duration = InRange(new Option<int>("--duration") { Description = "seconds to run, 0 for until Ctrl+C", DefaultValueFactory = _ => 0 }, 0, int.MaxValue);
        var seed = new Option<int?>("--seed") { Description = "random seed, for a repeatable run (default: random)" };

        var command = new RootCommand("RobotBridge: a simulated restaurant (robots, tables, orders) fed to TopicBroker's TCP bridge.")
        {
            robots, rate, host, port, duration, seed,
        };
        command.SetAction((parsed, cancellationToken) => run(
            new CommandLineOptions
            {
                Robots = parsed.GetValue(robots),
                Rate = parsed.GetValue(rate),
                Host = parsed.GetValue(host)!,
                Port = parsed.GetValue(port),
                Duration = TimeSpan.FromSeconds(parsed.GetValue(duration)),
                Seed = parsed.GetValue(seed),
            },
            cancellationToken));
        return command;
    }

    private static Option<T> InRange<T>(Option<T> option, T min, T max) where T : IComparable<T>
    {
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<T>();
            if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
            {
                result.AddError($"{option.Name}: '{value}' is not between {min} and {max}.");
            }
        });
        return option;
    }
}
