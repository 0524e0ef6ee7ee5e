using System.Collections.Concurrent;
using System.Net;
using TopicBroker.Protocol;

namespace TopicBroker.Connections;

/// <summary>
/// The total and per-address connection caps (protocol.md "Security"). The per-address map holds
/// only addresses with open connections, so it is bounded by the total cap.
/// </summary>
internal sealed class ConnectionAdmission(int maxConnections, int maxPerAddress)
{
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private int _total;

    public int Total => Volatile.Read(ref _total);

    /// <summary>Distinct remote addresses with open connections.</summary>
    public int AddressCount => _perAddress.Count;

    public bool TryAdmit(IPAddress address, out string? refusal)
    {
        if (Interlocked.Increment(ref _total) > maxConnections)
        {
            Interlocked.Decrement(ref _total);
            refusal = CloseCodes.TooManyConnectionsReason;
            return false;
        }

        if (_perAddress.AddOrUpdate(address, 1, static (_, count) => count + 1) > maxPerAddress)
        {
            Release(address);
            refusal = CloseCodes.TooManyConnectionsFromAddressReason;
            return false;
        }

        refusal = null;
        return true;
    }

    public void Release(IPAddress address)
    {
        Interlocked.Decrement(ref _total);
        while (_perAddress.TryGetValue(address, out var count))
        {
            var updated = count == 1
                ? _perAddress.TryRemove(new KeyValuePair<IPAddress, int>(address, 1))
                : _perAddress.TryUpdate(address, count - 1, count);
            if (updated)
            {
                return;
            }
        }
    }
}
