using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using TopicBroker.Hosting;
using TopicBroker.Security;

namespace TopicBroker.Tests.Security;

/// <summary>A token's lifetime is judged by the broker's clock, not by the machine's.</summary>
[Category("Unit")]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public sealed class TokenValidatorTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    private TokenValidator Validator(TimeSpan clockSkew) =>
        new(Options.Create(new BrokerOptions { Auth = new AuthOptions { SigningKey = TestTokens.Key, ClockSkew = clockSkew } }), _time);

    [Test]
    public async Task Token_IsValidUntilItsExpiry_OnTheInjectedClock()
    {
        var validator = Validator(TimeSpan.Zero);
        var token = TestTokens.Create(["robots"], expiresIn: TimeSpan.FromMinutes(10), now: _time.GetUtcNow());

        _time.Advance(TimeSpan.FromMinutes(9));
        var before = await validator.ValidateAsync(token);
        _time.Advance(TimeSpan.FromMinutes(2));
        var after = await validator.ValidateAsync(token);

        Assert.That(before.Ok, Is.True, before.Error);
        Assert.That(after.Error, Is.EqualTo("The token has expired."));
    }

    [Test]
    public async Task ClockSkew_IsAllowedPastTheExpiry()
    {
        var validator = Validator(TimeSpan.FromMinutes(5));
        var token = TestTokens.Create(["robots"], expiresIn: TimeSpan.FromMinutes(1), now: _time.GetUtcNow());

        _time.Advance(TimeSpan.FromMinutes(5));
        var withinSkew = await validator.ValidateAsync(token);
        _time.Advance(TimeSpan.FromMinutes(2));
        var pastSkew = await validator.ValidateAsync(token);

        Assert.That(withinSkew.Ok, Is.True, withinSkew.Error);
        Assert.That(pastSkew.Error, Is.EqualTo("The token has expired."));
    }

    [Test]
    public async Task Token_IsNotValidBeforeItsNotBefore_OnTheInjectedClock()
    {
        var validator = Validator(TimeSpan.Zero);
        var token = TestTokens.Create(["robots"], notBeforeIn: TimeSpan.FromMinutes(10), expiresIn: TimeSpan.FromHours(1), now: _time.GetUtcNow());

        var early = await validator.ValidateAsync(token);
        _time.Advance(TimeSpan.FromMinutes(11));
        var later = await validator.ValidateAsync(token);

        Assert.That(early.Error, Is.EqualTo("The token is not valid yet."));
        Assert.That(later.Ok, Is.True, later.Error);
    }
}
