namespace TopicBroker.Security;

/// <summary>
/// A token bucket per connection: <c>rate</c> messages a second, bursts of up to twice that.
/// Touched only by its connection's receive loop, so it needs no synchronisation.
/// </summary>
internal struct InboundRateLimiter(int messagesPerSecond, long frequency, long now)
{
    private readonly double _capacity = messagesPerSecond * 2.0;
    private double _tokens = messagesPerSecond * 2.0;
    private long _last = now;

    /// <summary>Takes one token; false means the client is flooding.</summary>
    public bool TryTake(long now)
    {
        _tokens = Math.Min(_capacity, _tokens + ((now - _last) * (double)messagesPerSecond / frequency));
        _last = now;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
