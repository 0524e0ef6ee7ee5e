using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using TopicBroker.Hosting;

namespace TopicBroker.Tests.Hosting;

/// <summary>A tick that throws never ends its loop, and a lasting fault is logged once, not every tick.</summary>
[Category("Unit")]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class PeriodicLoopTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private readonly FakeTimeProvider _time = new();
    private readonly RecordingLogger _logger = new();
    private readonly Channel<int> _ticks = Channel.CreateUnbounded<int>();
    private readonly CancellationTokenSource _stopping = new();

    [TearDown]
    public void TearDown() => _stopping.Dispose();

    [Test]
    public async Task Ticks_OncePerInterval_OnTheInjectedClock()
    {
        var loop = Run(_ => { });

        _time.Advance(Interval - TimeSpan.FromMilliseconds(1));
        Assert.That(_ticks.Reader.TryRead(out _), Is.False, "no tick before the interval");
        await TickAsync(1);
        await TickAsync(2);

        await StopAsync(loop);
    }

    [Test]
    public async Task ThrowingTick_IsLoggedAtError_AndTheLoopGoesOn()
    {
        var loop = Run(tick =>
        {
            if (tick == 1)
            {
                throw new InvalidOperationException("boom");
            }
        });

        await TickAsync(1);
        await TickAsync(2);
        await TickAsync(3);

        var error = _logger.Entries.Single(e => e.Level == LogLevel.Error);
        Assert.That(error.Message, Is.EqualTo("Test loop tick failed; the loop goes on"));
        Assert.That(error.Exception, Is.TypeOf<InvalidOperationException>());
        Assert.That(_logger.Entries.Where(e => e.Level == LogLevel.Information).Select(e => e.Message),
            Is.EqualTo(new[] { "Test loop tick succeeded again after 1 failed ticks" }));
        await StopAsync(loop);
    }

    [Test]
    public async Task LastingFault_IsOneError_UntilATickSucceeds_ThenANewFaultIsAnotherError()
    {
        var failing = new HashSet<int> { 1, 2, 3, 5 };
        var loop = Run(tick =>
        {
            if (failing.Contains(tick))
            {
                throw new IOException($"fault {tick}");
            }
        });

        for (var tick = 1; tick <= 7; tick++)
        {
            await TickAsync(tick);
        }

        // Tick 7 began, so everything ticks 1-6 log has been logged.
        Assert.That(_logger.Entries.Where(e => e.Level == LogLevel.Error).Select(e => e.Exception!.Message), Is.EqualTo(new[] { "fault 1", "fault 5" }));
        Assert.That(_logger.Entries.Count(e => e.Level == LogLevel.Debug), Is.EqualTo(2), "ticks 2 and 3 failed again");
        Assert.That(_logger.Entries.Where(e => e.Level == LogLevel.Information).Select(e => e.Message), Is.EqualTo(new[]
        {
            "Test loop tick succeeded again after 3 failed ticks",
            "Test loop tick succeeded again after 1 failed ticks",
        }));
        await StopAsync(loop);
    }

    [Test]
    public async Task Stopping_EndsTheLoopSilently_EvenInsideATick()
    {
        var loop = Run(_ =>
        {
            _stopping.Cancel();
            _stopping.Token.ThrowIfCancellationRequested();
        });

        _time.Advance(Interval);

        await loop.DefaultTimeout();
        Assert.That(_logger.Entries, Is.Empty);
    }

    [Test]
    public async Task AsyncTick_IsAwaited_BeforeTheNextOne()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = 0;
        var count = 0;
        var overlapped = false;
        var loop = PeriodicLoop.RunAsync("Test loop", Interval, _time, async _ =>
        {
            overlapped |= Interlocked.Increment(ref running) > 1;
            var tick = ++count;
            _ticks.Writer.TryWrite(tick);
            if (tick == 1)
            {
                await release.Task;
            }

            Interlocked.Decrement(ref running);
        }, _logger, _stopping.Token);

        await TickAsync(1);
        _time.Advance(Interval);
        _time.Advance(Interval);
        release.SetResult();
        Assert.That(await _ticks.Reader.ReadAsync().AsTask().DefaultTimeout(), Is.EqualTo(2));

        Assert.That(overlapped, Is.False);
        await StopAsync(loop);
    }

    private Task Run(Action<int> tick)
    {
        var count = 0;
        return PeriodicLoop.RunAsync("Test loop", Interval, _time, () =>
        {
            count++;
            _ticks.Writer.TryWrite(count);
            tick(count);
        }, _logger, _stopping.Token);
    }

    /// <summary>Moves the clock one interval and waits until tick <paramref name="expected"/> has begun.</summary>
    private async Task TickAsync(int expected)
    {
        _time.Advance(Interval);
        Assert.That(await _ticks.Reader.ReadAsync().AsTask().DefaultTimeout(), Is.EqualTo(expected));
    }

    private async Task StopAsync(Task loop)
    {
        _stopping.Cancel();
        await loop.DefaultTimeout();
    }

    private sealed class RecordingLogger : ILogger
    {
        private readonly ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> _entries = new();

        public IReadOnlyCollection<(LogLevel Level, string Message, Exception? Exception)> Entries => _entries;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _entries.Enqueue((logLevel, formatter(state, exception), exception));
    }
}
