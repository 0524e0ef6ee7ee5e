using System.Net;
using TopicBroker.Bench.Hosting;

namespace TopicBroker.Bench.Clients;

/// <summary>
/// Loopback source addresses for client sockets: 127.0.0.2, .3, ... (all of 127/8 is local on
/// Linux). Spreading connections over them keeps each address under the broker's per-address
/// connection cap (Broker:MaxConnectionsPerAddress) and under the ~28,000 ephemeral ports one
/// source address has towards one server port.
/// </summary>
internal static class SourceAddresses
{
    /// <summary>
    /// Connections per address unless --per-address says otherwise: the broker's default cap of
    /// connections from one remote address, so a default-configured broker accepts them all.
    /// </summary>
    public const int DefaultPerAddress = 1000;

    private const int MaxAddresses = 250;

    public static IReadOnlyList<IPAddress> For(int connections, int perAddress)
    {
        var count = Math.Max(1, (connections + perAddress - 1) / perAddress);
        if (count > MaxAddresses)
        {
            throw new BenchSetupException(
                $"{connections} connections at {perAddress} per source address need {count} addresses; at most {MaxAddresses} are used (raise --per-address).");
        }

        return [.. Enumerable.Range(2, count).Select(k => new IPAddress([127, 0, 0, (byte)k]))];
    }

    /// <summary>Subscriber i's placement: topics round-robin, addresses round-robin.</summary>
    public static List<SubscriberPlacement> Place(int connections, int topics, IReadOnlyList<IPAddress> addresses) =>
        [.. Enumerable.Range(0, connections).Select(i => new SubscriberPlacement(i % topics, addresses[i % addresses.Count]))];
}
