using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Topics;

namespace TopicBroker.MicroBench;

/// <summary>
/// The inbound readers on the ingest path (protocol.md "TCP bridge", "HTTP API", "Client to server").
/// Allocated bytes per operation are the figure to watch: a bridge line costs its id and topic
/// strings and one copy of its data, nothing more; a ping costs only the copy of its data.
/// </summary>
[MemoryDiagnoser]
public class InboundParseBenchmarks
{
    private readonly byte[] _upsertLine = Encoding.UTF8.GetBytes("""{"topic":"robots","id":"r-17","op":"upsert","data":{"x":4.25,"y":1.5,"battery":86,"state":"delivering","table":"T4"}}""");
    private readonly byte[] _deleteLine = Encoding.UTF8.GetBytes("""{"topic":"robots","id":"r-17","op":"delete"}""");
    private readonly byte[] _body = Encoding.UTF8.GetBytes("""{"x":4.25,"y":1.5,"battery":86,"state":"delivering","table":"T4"}""");
    private readonly byte[] _ping = Encoding.UTF8.GetBytes("""{"type":"ping","data":{"n":1}}""");
    private ChangeReader _reader = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = Options.Create(new BrokerOptions { Topics = ["robots"] });
        options.Value.ApplyDefaults();
        _reader = new ChangeReader(new TopicRegistry(options));
    }

    [Benchmark]
    public bool ParseUpsertLine() => _reader.TryReadLine(_upsertLine, out _, out _);

    [Benchmark]
    public bool ParseDeleteLine() => _reader.TryReadLine(_deleteLine, out _, out _);

    [Benchmark]
    public bool ParseHttpBody() => ChangeReader.TryReadBody(_body, out _);

    [Benchmark]
    public bool ParseClientPing() => ClientMessageReader.TryRead(_ping, out _);
}
