using System.Runtime.InteropServices;

namespace TopicBroker.Testing;

/// <summary>kill(2), for what <see cref="System.Diagnostics.Process"/> cannot send: SIGTERM, SIGSTOP, SIGQUIT.</summary>
public static class PosixSignals
{
    public const int Interrupt = 2;
    public const int Quit = 3;
    public const int Terminate = 15;
    public const int Stop = 19;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false if the kernel refused (no such process, say).</summary>
    public static bool TrySend(int pid, int signal) => SendSignal(pid, signal) == 0;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>, or throws with the reason.</summary>
    public static void Send(int pid, int signal)
    {
        if (SendSignal(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}
