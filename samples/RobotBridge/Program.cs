using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using RobotBridge;
using RobotBridge.Simulation;
using TopicBroker.Client.Bridge;

// RobotBridge: a simulated restaurant (robots, tables, orders) fed to TopicBroker's TCP bridge
// through the client library's BridgePublisher (clients/dotnet); this file only wires the two.

return await CommandLineOptions.CreateCommand(RunAsync)
    .Parse(args)
    // Ctrl+C and SIGTERM are handled below (the first stops gracefully), not by System.CommandLine.
    .InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static async Task<int> RunAsync(CommandLineOptions options, CancellationToken cancellationToken)
{
    // How long, after being told to stop, the bridge may take to get its last lines answered.
    var drainTimeout = TimeSpan.FromSeconds(10);

    using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestStop);
    using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestStop);
    if (options.Duration > TimeSpan.Zero)
    {
        stop.CancelAfter(options.Duration);
    }

    using var logging = LoggerFactory.Create(builder => builder.AddSimpleConsole(console =>
    {
        console.SingleLine = true;
        console.TimestampFormat = "HH:mm:ss.fff ";
    }));
    var bridge = new BridgePublisher(new BridgePublisherOptions
    {
        Host = options.Host,
        Port = options.Port,
        Logger = logging.CreateLogger("RobotBridge.Bridge"),
    });
    using var bridgeStop = new CancellationTokenSource();
    var bridgeRun = bridge.RunAsync(bridgeStop.Token);

    var restaurant = new Restaurant(options.Robots, options.Seed is { } seed ? new Random(seed) : new Random());
    var simulation = new SimulationLoop(restaurant, bridge, TimeSpan.FromSeconds(1 / options.Rate), TimeProvider.System, Console.Out);
    Console.WriteLine($"Simulating {options.Robots} robots at {options.Rate} steps/s into {options.Host}:{options.Port}; Ctrl+C to stop.");

    try
    {
        // The bridge only ends early if it fails; then stop simulating into a queue nobody sends.
        var simulationRun = simulation.RunAsync(stop.Token);
        if (await Task.WhenAny(simulationRun, bridgeRun) == bridgeRun)
        {
            await stop.CancelAsync();
        }

        await simulationRun;

        // Stop cleanly: clear the board, then wait (bounded) until the broker has answered every line.
        if (!bridgeRun.IsCompleted)
        {
            using var drain = new CancellationTokenSource(drainTimeout);
            try
            {
                await simulation.PublishClosingAsync(drain.Token);
                await bridge.WaitAllAckedAsync(drain.Token);
            }
            catch (OperationCanceledException) when (drain.IsCancellationRequested)
            {
                Console.Error.WriteLine($"Stopping with {bridge.Unacked} lines unanswered after {drainTimeout.TotalSeconds:F0} s.");
            }
        }
    }
    finally
    {
        await bridgeStop.CancelAsync();
        await bridgeRun;
    }

    simulation.ReportProgress();
    return bridge.Unacked == 0 ? 0 : 1;

    // The first Ctrl+C or SIGTERM stops gracefully; a second one ends the process at once.
    void RequestStop(PosixSignalContext context)
    {
        if (!stop.IsCancellationRequested)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}
