using Microsoft.Extensions.Time.Testing;
using TopicBroker.Security;

namespace TopicBroker.Tests.Security;

/// <summary>A client's message budget: <c>rate</c> a second, bursts of twice that.</summary>
[Category("Unit")]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class InboundRateLimiterTests
{
    private readonly FakeTimeProvider _time = new();

    [Test]
    public void Burst_OfTwiceTheRate_IsTaken_TheNextIsRefused()
    {
        var limiter = new InboundRateLimiter(5, _time.TimestampFrequency, _time.GetTimestamp());

        for (var i = 0; i < 10; i++)
        {
            Assert.That(limiter.TryTake(_time.GetTimestamp()), Is.True, $"message {i + 1} of the burst");
        }

        Assert.That(limiter.TryTake(_time.GetTimestamp()), Is.False);
    }

    [Test]
    public void Tokens_Refill_AtTheRate()
    {
        var limiter = Drained(5);

        _time.Advance(TimeSpan.FromMilliseconds(199));
        Assert.That(limiter.TryTake(_time.GetTimestamp()), Is.False, "less than 1/5 s: no whole token yet");

        _time.Advance(TimeSpan.FromMilliseconds(2));
        Assert.That(limiter.TryTake(_time.GetTimestamp()), Is.True, "1/5 s: one token");
        Assert.That(limiter.TryTake(_time.GetTimestamp()), Is.False);
    }

    [Test]
    public void SteadyTraffic_AtTheRate_IsNeverRefused()
    {
        var limiter = Drained(5);

        for (var i = 0; i < 100; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(200));
            Assert.That(limiter.TryTake(_time.GetTimestamp()), Is.True, $"message {i + 1}");
        }
    }

    [Test]
    public void LongSilence_RefillsOnlyTheBurst()
    {
        var limiter = Drained(5);

        _time.Advance(TimeSpan.FromHours(1));
        var taken = 0;
        while (limiter.TryTake(_time.GetTimestamp()))
        {
            taken++;
        }

        Assert.That(taken, Is.EqualTo(10));
    }

    [Test]
    public void RefusedMessages_DoNotBorrowFromTheFuture()
    {
        var limiter = Drained(5);
        for (var i = 0; i < 50; i++)
        {
            limiter.TryTake(_time.GetTimestamp());
        }

        _time.Advance(TimeSpan.FromMilliseconds(200));

        Assert.That(limiter.TryTake(_time.GetTimestamp()), Is.True, "a flood that was refused leaves the refill as it was");
    }

    private InboundRateLimiter Drained(int rate)
    {
        var limiter = new InboundRateLimiter(rate, _time.TimestampFrequency, _time.GetTimestamp());
        while (limiter.TryTake(_time.GetTimestamp()))
        {
        }

        return limiter;
    }
}
