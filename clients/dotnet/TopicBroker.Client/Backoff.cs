namespace TopicBroker.Client;

/// <summary>Capped exponential backoff with full jitter, shared by the subscription and the publisher.</summary>
internal static class Backoff
{
    /// <summary>
    /// Uniform over [0, min(cap, initial * 2^attempt)]: clients that lost the broker together do
    /// not come back together.
    /// </summary>
    public static TimeSpan Next(TimeSpan initial, TimeSpan cap, int failedAttempts)
    {
        var ceiling = Math.Min(cap.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Min(failedAttempts, 30)));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }
}
