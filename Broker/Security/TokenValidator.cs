using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using TopicBroker.Hosting;

namespace TopicBroker.Security;

/// <summary>The outcome of checking a token: its grants and expiry, or why it was refused.</summary>
internal readonly record struct TokenCheck(TopicGrants? Grants, DateTimeOffset ExpiresAt, string? Error)
{
    public bool Ok => Grants is not null;
}

/// <summary>
/// Validates HS256 JWTs with Microsoft.IdentityModel (no hand-written crypto) and reads the
/// <c>subscribe</c> and <c>publish</c> claims (protocol.md "Security"). Shared by the three inputs.
/// </summary>
internal sealed class TokenValidator
{
    public const string SubscribeClaim = "subscribe";
    public const string PublishClaim = "publish";

    private readonly JsonWebTokenHandler _handler = new();
    private readonly TokenValidationParameters? _parameters;

    public TokenValidator(IOptions<BrokerOptions> options, TimeProvider timeProvider)
    {
        var auth = options.Value.Auth;
        if (!auth.Enabled)
        {
            return;
        }

        _parameters = new TokenValidationParameters
        {
            IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(auth.SigningKey!)),
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidateIssuerSigningKey = true,
            ValidateIssuer = auth.Issuer is not null,
            ValidIssuer = auth.Issuer,
            ValidateAudience = auth.Audience is not null,
            ValidAudience = auth.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = auth.ClockSkew,
            // exp and nbf are checked against the broker's one clock, the same that ends a
            // connection whose token expires (tests move it with a FakeTimeProvider); the
            // default check would read the machine clock.
            LifetimeValidator = (notBefore, expires, _, parameters) =>
                ValidateLifetime(notBefore, expires, parameters.ClockSkew, timeProvider.GetUtcNow().UtcDateTime),
        };
    }

    public bool Enabled => _parameters is not null;

    /// <summary>Checks a token; with auth off, everything is allowed and nothing expires.</summary>
    public async Task<TokenCheck> ValidateAsync(string? token)
    {
        if (_parameters is null)
        {
            return new TokenCheck(TopicGrants.Anonymous, DateTimeOffset.MaxValue, null);
        }

        if (string.IsNullOrWhiteSpace(token))
        {
            return new TokenCheck(null, default, "A token is required.");
        }

        var result = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            // The exception type says why (expired, not yet valid, bad signature) without echoing the token.
            return new TokenCheck(null, default, result.Exception switch
            {
                SecurityTokenExpiredException => "The token has expired.",
                SecurityTokenNotYetValidException => "The token is not valid yet.",
                SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "The token's signature is not valid.",
                _ => "The token is not valid.",
            });
        }

        var grants = new TopicGrants(ReadTopics(jwt, SubscribeClaim), ReadTopics(jwt, PublishClaim));
        return new TokenCheck(grants, new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero), null);
    }

    /// <summary>
    /// IdentityModel's own lifetime rules (an expiry is required; nbf and exp with the clock skew
    /// either side), on the injected clock. The exception types are the ones ValidateAsync maps.
    /// </summary>
    private static bool ValidateLifetime(DateTime? notBefore, DateTime? expires, TimeSpan clockSkew, DateTime utcNow)
    {
        if (expires is not { } validTo)
        {
            throw new SecurityTokenNoExpirationException("The token has no expiry.");
        }

        if (notBefore is { } validFrom && validFrom > validTo)
        {
            throw new SecurityTokenInvalidLifetimeException("The token's nbf is after its exp.") { NotBefore = validFrom, Expires = validTo };
        }

        if (notBefore is { } notYet && notYet > utcNow + clockSkew)
        {
            throw new SecurityTokenNotYetValidException("The token is not valid yet.") { NotBefore = notYet };
        }

        if (validTo < utcNow - clockSkew)
        {
            throw new SecurityTokenExpiredException("The token has expired.") { Expires = validTo };
        }

        return true;
    }

    /// <summary>A claim holding a JSON array of patterns, or one string of space-separated patterns.</summary>
    private static string[] ReadTopics(JsonWebToken jwt, string claim)
    {
        if (!jwt.TryGetPayloadValue<JsonElement>(claim, out var value))
        {
            return [];
        }

        return value.ValueKind switch
        {
            JsonValueKind.Array => [.. value.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)],
            JsonValueKind.String => value.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            _ => [],
        };
    }
}
