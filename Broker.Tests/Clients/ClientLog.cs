using Microsoft.Extensions.Logging;

namespace TopicBroker.Tests.Clients;

/// <summary>
/// The log of a TopicBroker.Client object, kept so that a test can wait for what the client reports
/// it did (lost a connection, gave up on an answer) instead of guessing when it did it.
/// </summary>
internal sealed class ClientLog : ILogger
{
    private readonly EventRecorder<string> _lines = new();

    /// <summary>How many lines have been logged so far; a later wait can ask for newer ones only.</summary>
    public int Count => _lines.Count;

    public override string ToString() => _lines.ToString();

    /// <summary>Waits for a line containing <paramref name="fragment"/> among the lines after the first <paramref name="skip"/>.</summary>
    public Task WaitForAsync(string fragment, int skip = 0) =>
        _lines.WaitForAsync(line => line.Contains(fragment, StringComparison.Ordinal), skip);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Add($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}");
}
