using System.Net.WebSockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TopicBroker.Client.Subscription;

/// <summary>Settings of a <see cref="TopicSubscription"/>.</summary>
public sealed class TopicSubscriptionOptions
{
    /// <summary>The topic's WebSocket URL, for example <c>ws://localhost:5000/ws/robots</c>.</summary>
    public required Uri Uri { get; init; }

    /// <summary>
    /// Gets the JWT sent as <c>Authorization: Bearer</c> when the broker requires tokens; asked
    /// again before every connection, so a reconnect after 4401 (token expired) uses a fresh one.
    /// Null for a broker without auth.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? AccessToken { get; init; }

    /// <summary>Upper bound of the first reconnect delay; it doubles per failed attempt.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Cap of the reconnect delay.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long opening a connection may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Silence after which the connection is presumed dead (half-open TCP). The broker pings every
    /// 15 s by default (<c>Broker:PingInterval</c>), so this is far beyond a healthy gap.
    /// </summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>More settings of each <see cref="ClientWebSocket"/> (proxy, certificates, headers).</summary>
    public Action<ClientWebSocketOptions>? ConfigureWebSocket { get; init; }

    /// <summary>Clock for backoff and reconnect delays and the stale timeout; tests pass a fake one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Where connection events are reported.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Uri);
        if (Uri.Scheme is not ("ws" or "wss"))
        {
            throw new ArgumentException($"The URL must be ws:// or wss://, not {Uri.Scheme}://.", nameof(Uri));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(InitialBackoff, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBackoff, InitialBackoff);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StaleAfter, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(TimeProvider);
        ArgumentNullException.ThrowIfNull(Logger);
    }
}
