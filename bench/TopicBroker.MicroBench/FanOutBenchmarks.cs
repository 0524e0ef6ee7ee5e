using System.Net.WebSockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TopicBroker.Connections;
using TopicBroker.Hosting;
using TopicBroker.Protocol;
using TopicBroker.Security;
using TopicBroker.Topics;

namespace TopicBroker.MicroBench;

/// <summary>
/// The broadcast hot path without sockets: serialize an update once, then hand the same frame to
/// every subscriber's bounded queue. Allocated bytes per operation must not grow with the number
/// of subscribers (nothing per recipient), and steady state must cause no gen2 collections.
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private readonly byte[] _data = Encoding.UTF8.GetBytes("""{"x":4.25,"y":1.5,"battery":86,"state":"delivering","table":"T4","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}""");
    private TopicState _topic = null!;
    private List<(WebSocketConnection Connection, Stream Stream)> _subscribers = null!;
    private long _seq;

    [Params(1, 1000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = Options.Create(new BrokerOptions { Topics = ["robots"] });
        options.Value.ApplyDefaults();
        var topics = new TopicRegistry(options);
        topics.TryGet("robots", out var topic);
        _topic = topic!;
        var handler = new ClientMessageHandler(new TokenValidator(options), TimeProvider.System);
        var manager = new ConnectionManager(topics, handler, new SendWorkers(options, NullLogger<SendWorkers>.Instance), options, TimeProvider.System, NullLogger<ConnectionManager>.Instance, NullLogger<WebSocketConnection>.Instance);
        _subscribers = [];
        for (var i = 0; i < Subscribers; i++)
        {
            // A WebSocket over a stream nobody reads: the benchmark exercises only the queues.
            var stream = new MemoryStream();
            var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true });
            var connection = new WebSocketConnection(
                i, _topic, socket, null, null, manager, handler,
                new WebSocketConnection.ConnectionSettings(1 << 20, 65536, 20, DeliveryPolicy.Disconnect),
                TimeProvider.System.GetTimestamp(), long.MaxValue, NullLogger.Instance);
            _topic.TryReserveSlot(int.MaxValue);
            _topic.Subscribe(connection, since: null, replayLimit: 0);
            _subscribers.Add((connection, stream));
        }
    }

    /// <summary>One update: serialized once, applied to the topic, fanned out to every subscriber.</summary>
    [Benchmark]
    public void PublishOneUpdate()
    {
        var seq = ++_seq;
        var frame = FrameSerializer.Update("robots", seq, "robot-7", _data);
        _topic.Apply(seq, "robot-7", _data, frame, 0);
        if (seq % 1000 == 0)
        {
            DrainQueues();
        }
    }

    /// <summary>Serialization alone: the one allocation per update (the frame's bytes and its wrapper).</summary>
    [Benchmark]
    public int SerializeUpdate() => FrameSerializer.Update("robots", ++_seq, "robot-7", _data).Payload.Length;

    private void DrainQueues()
    {
        foreach (var (connection, _) in _subscribers)
        {
            connection.DrainForBenchmark();
        }
    }
}
