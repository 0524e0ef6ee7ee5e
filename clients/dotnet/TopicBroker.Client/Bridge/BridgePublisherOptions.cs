using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TopicBroker.Client.Bridge;

/// <summary>Settings of a <see cref="BridgePublisher"/>. The defaults suit a publisher on the broker's machine.</summary>
public sealed class BridgePublisherOptions
{
    /// <summary>The broker's bridge address (<c>Broker:TcpBridge:Address</c>).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The broker's bridge port (<c>Broker:TcpBridge:Port</c>).</summary>
    public int Port { get; init; } = 5001;

    /// <summary>
    /// Gets the JWT sent as each connection's first line (<c>{"auth":"..."}</c>) when the broker
    /// requires tokens; asked again for every connection, so a connection closed because its
    /// token expired comes back with a fresh one. Null for a broker without auth.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? AccessToken { get; init; }

    /// <summary>
    /// Lines kept until the broker answers them. <c>PublishAsync</c> waits while this many are
    /// outstanding, which bounds memory while the broker is away and slows the producer down to
    /// the broker's pace instead of queueing without end.
    /// </summary>
    public int MaxUnacked { get; init; } = 4096;

    /// <summary>Upper bound of the first reconnect delay; it doubles per failed attempt.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Cap of the reconnect delay, and how long a connection must last to count as healthy.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a TCP connect may take before it counts as failed.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the oldest sent line may wait for its answer before the connection is presumed
    /// dead (a half-open TCP connection never reports an error by itself). The broker answers
    /// after each commit, normally within milliseconds.
    /// </summary>
    public TimeSpan AnswerTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A blank line goes out after this long without sending anything, so the broker does not close
    /// an idle connection (<c>Broker:TcpBridge:IdleTimeout</c>, 2 minutes by default).
    /// </summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Clock for backoff delays, keep-alives and the answer timeout; tests pass a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where connection events and rejected lines are reported.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Host);
        ArgumentOutOfRangeException.ThrowIfLessThan(Port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxUnacked, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(InitialBackoff, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBackoff, InitialBackoff);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(AnswerTimeout, TimeSpan.FromMilliseconds(10));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(KeepAliveInterval, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(TimeProvider);
        ArgumentNullException.ThrowIfNull(Logger);
    }
}
