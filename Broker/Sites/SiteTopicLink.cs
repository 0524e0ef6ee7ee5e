using TopicBroker.Topics;

namespace TopicBroker.Sites;

/// <summary>
/// The head office's view of one replicated topic of one site: what arrived, what it
/// acknowledged, and what the restaurant last reported. Written by the site's link, read by status.
/// </summary>
internal sealed class SiteTopicLink(string topic, TopicState state)
{
    private long _received;
    private long _acknowledged;
    private long _restaurantSeq;

    /// <summary>The configured topic name (<c>robots</c>).</summary>
    public string Topic { get; } = topic;

    /// <summary>The head office's site topic (<c>site-12/robots</c>).</summary>
    public TopicState State { get; } = state;

    /// <summary>The seq of the newest change or resynchronisation received on the link.</summary>
    public long Received { get => Volatile.Read(ref _received); set => Volatile.Write(ref _received, value); }

    /// <summary>The seq the head office last acknowledged (committed).</summary>
    public long Acknowledged { get => Volatile.Read(ref _acknowledged); set => Volatile.Write(ref _acknowledged, value); }

    /// <summary>The restaurant's own seq of the topic, from its last <c>position</c> message.</summary>
    public long RestaurantSeq { get => Volatile.Read(ref _restaurantSeq); set => Volatile.Write(ref _restaurantSeq, value); }
}
