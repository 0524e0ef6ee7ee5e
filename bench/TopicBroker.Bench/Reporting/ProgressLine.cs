namespace TopicBroker.Bench.Reporting;

/// <summary>
/// The live status line. On a terminal it rewrites one line twice a second; into a file or a
/// test's writer it appends a line every second instead. Its loop is owned and awaited by
/// <see cref="DisposeAsync"/>.
/// </summary>
internal sealed class ProgressLine : IAsyncDisposable
{
    private readonly TextWriter _output;
    private readonly bool _interactive;
    private readonly Func<string> _describe;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _lastLength;

    private ProgressLine(TextWriter output, bool interactive, Func<string> describe)
    {
        _output = output;
        _interactive = interactive;
        _describe = describe;
        _loop = RunAsync();
    }

    public static ProgressLine Start(TextWriter output, bool interactive, Func<string> describe) => new(output, interactive, describe);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
        if (_interactive && _lastLength > 0)
        {
            _output.Write("\r" + new string(' ', _lastLength) + "\r");
        }
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_interactive ? 500 : 1000));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                var text = _describe();
                if (_interactive)
                {
                    var padded = text.Length < _lastLength ? text.PadRight(_lastLength) : text;
                    _output.Write("\r" + padded);
                    _lastLength = text.Length;
                }
                else
                {
                    _output.WriteLine(text);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
