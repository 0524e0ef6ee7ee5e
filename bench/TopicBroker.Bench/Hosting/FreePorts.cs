using System.Net;
using System.Net.Sockets;

namespace TopicBroker.Bench.Hosting;

internal static class FreePorts
{
    /// <summary>
    /// Asks the kernel for a free loopback port by binding port 0 and releasing it. Another
    /// process could take it in between; the broker then fails to start and says so.
    /// </summary>
    public static int Pick()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }
}
