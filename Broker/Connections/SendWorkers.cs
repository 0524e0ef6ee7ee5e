using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using TopicBroker.Hosting;
using TopicBroker.Protocol;

namespace TopicBroker.Connections;

/// <summary>
/// The fan-out workers: a fixed set (one per core unless <see cref="BrokerOptions.SendWorkers"/>
/// says otherwise), each owning a shard of the connections. A connection whose queue gets work is
/// put on its worker's ready list once (<see cref="SendQueue"/> says when); the worker writes each
/// ready connection's pending frames in one write per pass. So a committed batch wakes a few
/// workers instead of one send loop per subscriber, and a connection's writes only ever come
/// from its own worker, one at a time (exactly one writer per socket).
/// </summary>
internal sealed partial class SendWorkers : IAsyncDisposable
{
    private readonly SendWorker[] _workers;
    private readonly Task[] _loops;

    /// <param name="startLoops">False only for the micro-benchmark, which runs the passes itself (<see cref="SendWorker.RunReadyPasses"/>).</param>
    public SendWorkers(IOptions<BrokerOptions> options, TimeProvider timeProvider, ILogger<SendWorkers> logger, bool startLoops = true)
    {
        var count = options.Value.SendWorkers > 0 ? options.Value.SendWorkers : Environment.ProcessorCount;
        _workers = new SendWorker[count];
        _loops = new Task[count];
        for (var i = 0; i < count; i++)
        {
            _workers[i] = new SendWorker(i, options.Value.SendWriteDelay, timeProvider, logger);
            // Owned here and awaited in DisposeAsync.
            _loops[i] = startLoops ? Task.Run(_workers[i].RunAsync) : Task.CompletedTask;
        }
    }

    public int Count => _workers.Length;

    public IReadOnlyList<SendWorker> All => _workers;

    /// <summary>The worker that owns a connection, by its id.</summary>
    public SendWorker For(long connectionId) => _workers[(int)((ulong)connectionId % (ulong)_workers.Length)];

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            worker.Stop();
        }

        await Task.WhenAll(_loops).ConfigureAwait(false);
    }
}

/// <summary>One fan-out worker: its ready list and the loop that runs a send pass for each ready connection.</summary>
internal sealed partial class SendWorker(int index, TimeSpan writeDelay, TimeProvider timeProvider, ILogger logger)
{
    private readonly ConcurrentQueue<WebSocketConnection> _ready = new();
    private readonly WakeSignal _wake = new();

    // Scratch space for one pass, reused: a pass allocates nothing per connection.
    private readonly List<OutboundFrame> _batch = [];
    private volatile bool _stopping;

    public int Index { get; } = index;

    /// <summary>Puts a connection on the ready list. Its <see cref="SendQueue"/> makes sure this happens once per idle period.</summary>
    public void Schedule(WebSocketConnection connection)
    {
        _ready.Enqueue(connection);
        _wake.Signal();
    }

    public void Stop()
    {
        _stopping = true;
        _wake.Signal();
    }

    public async Task RunAsync()
    {
        while (!_stopping)
        {
            await _wake.WaitAsync().ConfigureAwait(false);
            if (writeDelay > TimeSpan.Zero && !_stopping)
            {
                // Broker:SendWriteDelay: let more frames gather before this pass writes.
                await Task.Delay(writeDelay, timeProvider).ConfigureAwait(false);
            }

            RunReadyPasses();
        }
    }

    /// <summary>Runs a send pass for every connection on the ready list. The loop's body; called directly only by the micro-benchmark.</summary>
    internal void RunReadyPasses()
    {
        while (_ready.TryDequeue(out var connection))
        {
            // Each pass in its own try, so the loop never dies (connections catch their own faults).
            try
            {
                connection.RunSendPass(_batch);
            }
            catch (Exception ex)
            {
                Log.PassFailed(logger, Index, connection.Id, ex);
            }
            finally
            {
                _batch.Clear();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Send worker {Worker}: the send pass of connection {ConnectionId} failed")]
        public static partial void PassFailed(ILogger logger, int worker, long connectionId, Exception exception);
    }
}
