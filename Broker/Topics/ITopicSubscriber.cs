using TopicBroker.Protocol;

namespace TopicBroker.Topics;

/// <summary>
/// What a topic fans out to (a WebSocket connection, or anything else that takes frames). The
/// topic calls it under its lock, so every member must return at once, never wait, and never call
/// back into the topic; a subscriber that has to be closed says so by its return value, and the
/// topic closes it after leaving the lock.
/// </summary>
internal interface ITopicSubscriber
{
    /// <summary>This subscriber's slot in the topic's subscriber array; owned by <see cref="TopicState"/>.</summary>
    int SubscriberIndex { get; set; }

    /// <summary>True once the subscriber is closing: <see cref="TopicState.Subscribe"/> then leaves it out.</summary>
    bool IsClosing { get; }

    /// <summary>Queues one of the subscriber's first frames (its snapshot or replay). False when it has no room.</summary>
    bool TryEnqueueInitial(OutboundFrame frame);

    /// <summary>Hands over a fanned-out frame. False: the subscriber fell too far behind and must be closed as a slow consumer.</summary>
    bool Deliver(OutboundFrame frame);

    /// <summary>Closes a subscriber whose <see cref="Deliver"/> returned false. Called outside the topic's lock; it may unsubscribe.</summary>
    void CloseAsSlowConsumer();
}
