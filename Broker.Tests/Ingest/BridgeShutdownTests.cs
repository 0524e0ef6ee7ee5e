using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using TopicBroker.Ingest;
using TopicBroker.Protocol.Inbound;
using TopicBroker.Security;

namespace TopicBroker.Tests.Ingest;

/// <summary>
/// Every interleaving of a bridge connection ending (or arriving) and the shutdown that stops the
/// bridge, each forced with the listener's test seams instead of hoped for by timing.
/// </summary>
public sealed class BridgeShutdownTests
{
    private const string Line = """{"topic":"events","id":"e","data":{}}""";

    [Test]
    public async Task ConnectionEndingAfterShutdownListedIt_IsStoppedSafely()
    {
        await using var broker = await BrokerHost.StartAsync();
        var listener = broker.Get<BridgeListener>();
        var removed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.OnConnectionRemovedForTest = _ => removed.TrySetResult();
        var bridge = await broker.ConnectBridgeAsync();
        await bridge.PublishAsync(Line);

        // Shutdown has its list; the connection ends and is disposed before shutdown reaches it.
        listener.OnStopWalkForTest = async () =>
        {
            await bridge.DisposeAsync();
            await removed.Task.DefaultTimeout();
        };

        await broker.StopAsync();

        await broker.WaitForLogAsync(e => e.RenderMessage().Contains("TCP bridge stopped", StringComparison.Ordinal));
        Assert.That(listener.ConnectionCount, Is.Zero);
    }

    [Test]
    public async Task ConnectionAcceptedWhileShutdownWalks_IsStoppedToo_AndShutdownDoesNotWaitForIt()
    {
        // Without being stopped, the late connection would read on for IdleTimeout and hold the
        // shutdown (up to ShutdownTimeout) far beyond the test's timeout.
        await using var broker = await BrokerHost.StartAsync(new Dictionary<string, string?>
        {
            ["Broker:TcpBridge:IdleTimeout"] = "00:10:00",
            ["Broker:ShutdownTimeout"] = "00:02:00",
        });
        var listener = broker.Get<BridgeListener>();
        var accepted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var walked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var register = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.OnAcceptedForTest = async () =>
        {
            accepted.TrySetResult();
            await register.Task;
        };
        listener.OnStopWalkForTest = () =>
        {
            walked.TrySetResult();
            return Task.CompletedTask;
        };

        await using var late = await broker.ConnectBridgeAsync();
        await accepted.Task.DefaultTimeout();
        var stopping = broker.StopAsync();
        await walked.Task.DefaultTimeout();
        // The walk has its list without the new connection; only now is the connection registered.
        register.TrySetResult();

        await stopping.DefaultTimeout();
        Assert.That(await late.ReadAnswerAsync(), Is.Null, "the broker ended the late connection");
    }

    [Test]
    public async Task StopReading_BeforeTheConnectionRuns_AndAfterItWasDisposed_IsHarmless()
    {
        await using var broker = await BrokerHost.StartAsync();
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        server.Listen(1);
        using var client = new TcpClient();
        await client.ConnectAsync((IPEndPoint)server.LocalEndPoint!).DefaultTimeout();
        var connection = new BridgeConnection(
            1, await server.AcceptAsync().DefaultTimeout(), broker.Get<ChangeReader>(), broker.Get<IngestPipeline>(), broker.Get<TokenValidator>(),
            new BridgeConnection.Limits(1024, TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(10)),
            TimeProvider.System,
            NullLogger<BridgeConnection>.Instance);

        connection.StopReading();
        await connection.RunAsync().DefaultTimeout();
        connection.Dispose();

        Assert.DoesNotThrow(connection.StopReading);
    }
}
