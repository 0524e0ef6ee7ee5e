using System.Runtime.InteropServices;
using TopicBroker.Bench;

// Run socket continuations on the runtime's epoll threads instead of hopping to the thread pool:
// the subscribers' receive loops are short and never block, and this cuts the generator's CPU
// per received read by about a quarter (measured), leaving more of the shared cores to the
// broker. The runtime reads the variable once, when the first socket is registered, so it must
// be set before any socket is used. The broker child process gets it removed (BenchBroker).
Environment.SetEnvironmentVariable(BenchProgram.InlineCompletionsVariable, "1");

// Ctrl+C and SIGTERM cancel the run; the scenario unwinds and the broker child process is killed
// in a finally, so no broker is left behind.
using var cancellation = new CancellationTokenSource();
void Cancel(PosixSignalContext context)
{
    context.Cancel = true;
    cancellation.Cancel();
}

using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
return await BenchProgram.RunAsync(args, Console.Out, cancellation.Token);
