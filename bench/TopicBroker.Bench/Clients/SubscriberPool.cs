using System.Net;
using System.Net.Sockets;
using TopicBroker.Bench.Measurement;

namespace TopicBroker.Bench.Clients;

/// <summary>Where one subscriber connects: its topic and, for the connections scenario, its source address.</summary>
internal readonly record struct SubscriberPlacement(int TopicIndex, IPAddress? LocalAddress);

/// <summary>The outcome of opening a pool's connections.</summary>
internal sealed record ConnectOutcome(int Requested, int Established, int Failed, double Seconds, IReadOnlyList<string> FailureSamples);

/// <summary>
/// Opens many <see cref="RawWebSocketSubscriber"/>s with a bounded number in flight (a connection
/// is in flight until its first frame, the snapshot, has arrived), owns their receive loops and
/// closes them all on dispose. Receive loops are plain async loops on the thread pool: a handful
/// of threads serve thousands of sockets.
/// </summary>
internal sealed class SubscriberPool : IAsyncDisposable
{
    private const int KeptFailureSamples = 5;
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(15);

    private readonly IPEndPoint _server;
    private readonly byte[][] _handshakes;
    private readonly int _bufferSize;
    private readonly int? _node;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<RawWebSocketSubscriber> _subscribers = [];
    private readonly List<Task> _receiveLoops = [];
    private readonly Lock _gate = new();
    private int _attempted;
    private bool _disposed;

    /// <param name="node">The cluster scenario: the index of the node these subscribers connect to; they then check broker seqs (see RawWebSocketSubscriber).</param>
    public SubscriberPool(IPEndPoint server, string hostHeader, string? accessToken, IReadOnlyList<string> topicPaths, int bufferSize, int? node = null)
    {
        _node = node;
        _server = server;
        _handshakes = [.. topicPaths.Select(path => RawWebSocketSubscriber.BuildHandshake(hostHeader, path, accessToken))];
        _bufferSize = bufferSize;
        Window = new ActiveWindow();
    }

    /// <summary>The window every subscriber of this pool records latencies into.</summary>
    public ActiveWindow Window { get; }

    /// <summary>Connections started so far (done, failed or in flight); for the progress line.</summary>
    public int Attempted => Volatile.Read(ref _attempted);

    public IReadOnlyList<RawWebSocketSubscriber> Subscribers
    {
        get
        {
            lock (_gate)
            {
                return [.. _subscribers];
            }
        }
    }

    public async Task<ConnectOutcome> ConnectAsync(
        IReadOnlyList<SubscriberPlacement> placements,
        int concurrency,
        TimeSpan perConnectionTimeout,
        CancellationToken cancellationToken)
    {
        var started = MonotonicClock.Now;
        var next = -1;
        var failed = 0;
        var failures = new List<string>();

        async Task ConnectWorkerAsync()
        {
            while (true)
            {
                var index = Interlocked.Increment(ref next);
                if (index >= placements.Count)
                {
                    return;
                }

                var placement = placements[index];
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(perConnectionTimeout);
                Interlocked.Increment(ref _attempted);
                string? failure = null;
                try
                {
                    var subscriber = await RawWebSocketSubscriber.ConnectAsync(
                        _server, placement.LocalAddress, _handshakes[placement.TopicIndex], placement.TopicIndex,
                        _bufferSize, Window, _node, timeout.Token).ConfigureAwait(false);
                    Track(subscriber);
                    if (!await subscriber.FirstFrame.WaitAsync(timeout.Token).ConfigureAwait(false))
                    {
                        failure = subscriber.CloseStatus is { } status
                            ? $"closed with {status} '{subscriber.CloseReason}' before the first frame"
                            : $"ended before the first frame: {subscriber.Failure}";
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = $"no snapshot within {perConnectionTimeout.TotalSeconds:0} s";
                }
                catch (SocketException ex)
                {
                    failure = $"connect failed: {ex.SocketErrorCode}";
                }
                catch (InvalidDataException ex)
                {
                    failure = ex.Message;
                }

                if (failure is not null)
                {
                    Interlocked.Increment(ref failed);
                    lock (failures)
                    {
                        if (failures.Count < KeptFailureSamples)
                        {
                            failures.Add(failure);
                        }
                    }
                }
            }
        }

        var workers = new Task[Math.Max(1, Math.Min(concurrency, placements.Count))];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = ConnectWorkerAsync();
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        var seconds = MonotonicClock.ToSeconds(MonotonicClock.Now - started);
        return new ConnectOutcome(placements.Count, placements.Count - failed, failed, seconds, failures);
    }

    /// <summary>
    /// Waits until every open subscriber has seen every publisher sequence below
    /// <paramref name="publishedPerTopic"/>[its topic], or the timeout passes. Returns whether all did.
    /// </summary>
    public async Task<bool> WaitForDrainAsync(IReadOnlyList<long> publishedPerTopic, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = MonotonicClock.Now + MonotonicClock.FromSeconds(timeout.TotalSeconds);
        var subscribers = Subscribers;
        while (true)
        {
            var drained = true;
            foreach (var subscriber in subscribers)
            {
                if (subscriber.IsOpen && subscriber.ExpectedSequence < publishedPerTopic[subscriber.TopicIndex])
                {
                    drained = false;
                    break;
                }
            }

            if (drained)
            {
                return true;
            }

            if (MonotonicClock.Now >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }
    }

    public long TotalUpdates()
    {
        long total = 0;
        foreach (var subscriber in Subscribers)
        {
            total += subscriber.Updates;
        }

        return total;
    }

    public int OpenCount() => Subscribers.Count(static s => s.IsOpen);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        Task[] loops;
        lock (_gate)
        {
            loops = [.. _receiveLoops];
        }

        try
        {
            await Task.WhenAll(loops).WaitAsync(s_stopTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Disposing the sockets below ends any loop that is still stuck.
        }

        foreach (var subscriber in Subscribers)
        {
            subscriber.Dispose();
        }

        try
        {
            await Task.WhenAll(loops).WaitAsync(s_stopTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        _stop.Dispose();
    }

    private void Track(RawWebSocketSubscriber subscriber)
    {
        lock (_gate)
        {
            _subscribers.Add(subscriber);
            _receiveLoops.Add(subscriber.RunAsync(_stop.Token));
        }
    }
}
