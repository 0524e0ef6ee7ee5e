using System.Text.Json;

namespace TopicBroker.Client.Subscription;

/// <summary>What a <see cref="TopicSubscription"/> yields: a <see cref="TopicSnapshot"/> or a <see cref="TopicUpdate"/>.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Seq">The topic's seq after this event (protocol.md "Concepts").</param>
public abstract record TopicEvent(string Topic, long Seq);

/// <summary>
/// The whole state of the topic: it replaces everything held before, even at a lower seq (the
/// broker may have started over with another database, and its state is the truth).
/// </summary>
/// <param name="Topic">The topic.</param>
/// <param name="Seq">The newest change the snapshot includes.</param>
/// <param name="Entities">Every entity's data by id.</param>
public sealed record TopicSnapshot(string Topic, long Seq, IReadOnlyDictionary<string, JsonElement> Entities) : TopicEvent(Topic, Seq);

/// <summary>One change, in seq order; never one already applied.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Seq">The change's seq.</param>
/// <param name="Id">The entity.</param>
/// <param name="Operation">Upsert or delete.</param>
/// <param name="Data">The entity's new data; null for a delete.</param>
public sealed record TopicUpdate(string Topic, long Seq, string Id, TopicOperation Operation, JsonElement? Data) : TopicEvent(Topic, Seq);

/// <summary>The <c>op</c> of an update frame.</summary>
public enum TopicOperation
{
    /// <summary>The entity was created or replaced.</summary>
    Upsert,

    /// <summary>The entity was removed.</summary>
    Delete,
}

/// <summary>The connection state of a <see cref="TopicSubscription"/>.</summary>
public enum TopicConnectionStatus
{
    /// <summary>Not enumerated yet.</summary>
    Idle,

    /// <summary>Opening the first connection.</summary>
    Connecting,

    /// <summary>Connected; frames flow.</summary>
    Live,

    /// <summary>The connection dropped; the next one is pending.</summary>
    Reconnecting,

    /// <summary>Stopped for good: the enumeration ended, or the topic does not exist (close 1003).</summary>
    Closed,
}

/// <summary>The data of the broker's <c>shutdown</c> frame (protocol.md "Frames").</summary>
/// <param name="Reason">Why the broker stops.</param>
/// <param name="ReconnectAfter">How long to wait before reconnecting.</param>
/// <param name="ResumeFrom">The topic's seq when it stopped.</param>
public sealed record ShutdownNotice(string Reason, TimeSpan ReconnectAfter, long ResumeFrom);

/// <summary>The broker's answer to a token refresh (protocol.md "Tokens").</summary>
/// <param name="ExpiresAt">When the new token expires; null if it never does.</param>
public sealed record TokenRefreshAnswer(DateTimeOffset? ExpiresAt);

/// <summary>A subscription stopped for good: the broker closed it with 1003 (the topic is not configured).</summary>
/// <param name="message">The broker's close reason, with the topic.</param>
public sealed class TopicUnavailableException(string message) : Exception(message);

/// <summary>The broker refused a token refresh (<c>invalid_token</c> or <c>forbidden</c>; the old token stays in force), or the connection dropped first (<c>not_connected</c>).</summary>
/// <param name="code">The broker's error code.</param>
/// <param name="detail">The broker's message.</param>
public sealed class TokenRefreshRefusedException(string code, string? detail) : Exception($"{code}: {detail}")
{
    /// <summary>The broker's error code: <c>invalid_token</c> or <c>forbidden</c>, or <c>not_connected</c>.</summary>
    public string Code { get; } = code;
}
