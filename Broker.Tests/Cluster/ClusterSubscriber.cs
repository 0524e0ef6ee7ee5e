using System.Text.Json;

namespace TopicBroker.Tests.Cluster;

/// <summary>
/// A WebSocket subscriber that records every frame in the background: the snapshot's seq, each
/// update's seq and id in arrival order, and a shutdown frame if one comes. Tests wait on a seq
/// being reached, a real signal, never a sleep.
/// </summary>
internal sealed class ClusterSubscriber : IAsyncDisposable
{
    private readonly TestWebSocket _socket = new();
    private readonly List<(long Seq, string Id)> _updates = [];
    private readonly List<(long Seq, TaskCompletionSource Signal)> _waiters = [];
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;

    public long? SnapshotSeq { get; private set; }

    public JsonElement? Shutdown { get; private set; }

    public Task Closed => _closed.Task;

    /// <summary>The updates so far, in arrival order.</summary>
    public IReadOnlyList<(long Seq, string Id)> Updates
    {
        get
        {
            lock (_updates)
            {
                return [.. _updates];
            }
        }
    }

    /// <summary>The newest seq seen (snapshot or update).</summary>
    public long LastSeq
    {
        get
        {
            lock (_updates)
            {
                return _updates.Count > 0 ? _updates[^1].Seq : SnapshotSeq ?? 0;
            }
        }
    }

    public static async Task<ClusterSubscriber> ConnectAsync(Uri http, string topic, long? since = null)
    {
        var subscriber = new ClusterSubscriber();
        var uri = new Uri($"ws://{http.Authority}/ws/{topic}{(since is null ? "" : $"?since={since}")}");
        await subscriber._socket.ConnectAsync(uri).DefaultTimeout();
        subscriber._loop = subscriber.ReceiveAllAsync();
        return subscriber;
    }

    /// <summary>Completes once an update (or snapshot) with at least <paramref name="seq"/> has arrived.</summary>
    public Task WaitForSeqAsync(long seq, TimeSpan? timeout = null)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_updates)
        {
            if (LastSeqLocked() >= seq)
            {
                return Task.CompletedTask;
            }

            _waiters.Add((seq, signal));
        }

        return signal.Task.DefaultTimeout(timeout ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>Asserts the updates are exactly <paramref name="from"/>..<paramref name="to"/>, each once, in order.</summary>
    public void AssertContiguous(long from, long to, string who)
    {
        var seqs = Updates.Select(u => u.Seq).ToList();
        Assert.That(seqs, Is.EqualTo(Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => (long)i)),
            $"{who}: every seq from {from} to {to} exactly once, in order");
    }

    public async ValueTask DisposeAsync()
    {
        await _socket.DisposeAsync();
        try
        {
            await _loop.DefaultTimeout();
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or ObjectDisposedException or TimeoutException)
        {
        }
    }

    private long LastSeqLocked() => _updates.Count > 0 ? _updates[^1].Seq : SnapshotSeq ?? 0;

    private async Task ReceiveAllAsync()
    {
        try
        {
            while (await _socket.ReceiveMessageAsync(TimeSpan.FromMinutes(5)) is { } message)
            {
                var frame = JsonDocument.Parse(message).RootElement.Clone();
                switch (frame.GetProperty("type").GetString())
                {
                    case "snapshot":
                        lock (_updates)
                        {
                            SnapshotSeq = frame.GetProperty("seq").GetInt64();
                            Release();
                        }

                        break;
                    case "update":
                        lock (_updates)
                        {
                            _updates.Add((frame.GetProperty("seq").GetInt64(), frame.GetProperty("id").GetString()!));
                            Release();
                        }

                        break;
                    case "shutdown":
                        Shutdown = frame;
                        break;
                }
            }
        }
        finally
        {
            _closed.TrySetResult();
        }
    }

    private void Release()
    {
        var last = LastSeqLocked();
        _waiters.RemoveAll(w => w.Seq <= last && w.Signal.TrySetResult());
    }
}
