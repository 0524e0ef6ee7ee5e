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
/// The broadcast hot path without a network: serialize an update once, fan the same frame out to
/// every subscriber's <see cref="SendQueue"/>, and (in <see cref="PublishAndSend"/>) run the fan-out
/// workers' send passes, which copy the shared pre-built frame bytes into each connection's
/// transport batch and write it (to <see cref="Stream.Null"/>). Allocated bytes per operation
/// must not grow with the number of subscribers (nothing per recipient), and steady state must
/// cause no gen2 collections.
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private readonly byte[] _data = Encoding.UTF8.GetBytes("""{"x":4.25,"y":1.5,"battery":86,"state":"delivering","table":"T4","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}""");
    private TopicState _topic = null!;
    private SendWorkers _workers = null!;
    private List<WebSocketConnection> _subscribers = null!;
    private long _seq;

    [Params(1, 1000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = Options.Create(new BrokerOptions { Topics = ["robots"], SendWorkers = 2 });
        options.Value.ApplyDefaults();
        var topics = new TopicRegistry(options);
        topics.TryGet("robots", out var topic);
        _topic = topic!;
        var handler = new ClientMessageHandler(new TokenValidator(options, TimeProvider.System), TimeProvider.System);

        // No worker loops: the benchmark runs the passes itself, on its own thread.
        _workers = new SendWorkers(options, TimeProvider.System, NullLogger<SendWorkers>.Instance, startLoops: false);
        var manager = new ConnectionManager(topics, handler, _workers, options, TimeProvider.System, NullLogger<ConnectionManager>.Instance, NullLogger<WebSocketConnection>.Instance);
        _subscribers = [];
        for (var i = 0; i < Subscribers; i++)
        {
            // The transport is a stream that takes every write at once; the WebSocket over it only
            // exists for its control frames, which this benchmark never sends.
            var transport = new CoalescingStream(Stream.Null);
            var socket = WebSocket.CreateFromStream(transport, new WebSocketCreationOptions { IsServer = true });
            var connection = new WebSocketConnection(
                i, _topic, socket, transport, null, manager, handler,
                new WebSocketConnection.ConnectionSettings(1 << 20, 65536, 20, DeliveryPolicy.Disconnect),
                TimeProvider.System.GetTimestamp(), long.MaxValue, NullLogger.Instance);
            _topic.TryReserveSlot(int.MaxValue);
            _topic.Subscribe(connection, since: null, replayLimit: 0);
            _subscribers.Add(connection);
        }

        RunPasses();
    }

    /// <summary>One update: serialized once, applied to the topic, fanned out to every subscriber's queue.</summary>
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

    /// <summary>One update fanned out, then every woken connection's send pass: one write per subscriber.</summary>
    [Benchmark]
    public void PublishAndSend()
    {
        var seq = ++_seq;
        var frame = FrameSerializer.Update("robots", seq, "robot-7", _data);
        _topic.Apply(seq, "robot-7", _data, frame, 0);
        RunPasses();
    }

    /// <summary>Serialization alone: the one allocation per update (the frame's bytes and its wrapper).</summary>
    [Benchmark]
    public int SerializeUpdate() => FrameSerializer.Update("robots", ++_seq, "robot-7", _data).Payload.Length;

    /// <summary>Serialization and the frame's wire form (header and payload, built once per update).</summary>
    [Benchmark]
    public int SerializeAndFrameUpdate() => FrameSerializer.Update("robots", ++_seq, "robot-7", _data).WireBytes.Length;

    private void RunPasses()
    {
        foreach (var worker in _workers.All)
        {
            worker.RunReadyPasses();
        }
    }

    private void DrainQueues()
    {
        foreach (var connection in _subscribers)
        {
            connection.DrainForBenchmark();
        }

        RunPasses();
    }
}
