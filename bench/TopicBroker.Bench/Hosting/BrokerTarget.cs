using System.Net;

namespace TopicBroker.Bench.Hosting;

/// <summary>The broker under test: where to reach it and, when known, its process id.</summary>
internal sealed record BrokerTarget(
    Uri HttpBase,
    IPEndPoint HttpEndPoint,
    IPEndPoint BridgeEndPoint,
    int? ProcessId,
    bool Owned,
    IReadOnlyList<string> Arguments,
    string? Dll = null,
    string? AccessToken = null)
{
    /// <summary>The Host header value for requests to <see cref="HttpBase"/>.</summary>
    public string HostHeader => HttpBase.Authority;

    public string WebSocketPath(string topic) => $"/ws/{Uri.EscapeDataString(topic)}";
}
