using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace TopicBroker.Tests.Infrastructure;

/// <summary>Mints HS256 JWTs the way an operator's token service would.</summary>
internal static class TestTokens
{
    public const string Key = "test-signing-key-that-is-long-enough-for-hs256";
    public const string OtherKey = "another-signing-key-that-is-long-enough-for-hs256";

    public static Dictionary<string, string?> AuthSettings(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Broker:Auth:SigningKey"] = Key,
            // Expiry tests use tokens that expire in about a second; no clock skew allowance.
            ["Broker:Auth:ClockSkew"] = "00:00:00",
        };
        foreach (var (k, v) in more ?? [])
        {
            settings[k] = v;
        }

        return settings;
    }

    public static string Create(
        string[]? subscribe = null,
        string[]? publish = null,
        TimeSpan? expiresIn = null,
        TimeSpan? notBeforeIn = null,
        string key = Key)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object>();
        if (subscribe is not null)
        {
            claims["subscribe"] = subscribe;
        }

        if (publish is not null)
        {
            claims["publish"] = publish;
        }

        var expires = now + (expiresIn ?? TimeSpan.FromHours(1));
        var notBefore = now + (notBeforeIn ?? TimeSpan.FromMinutes(-5));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", "test-client")]),
            Claims = claims,
            IssuedAt = notBefore < expires ? notBefore : expires.AddMinutes(-10),
            NotBefore = notBefore < expires ? notBefore : expires.AddMinutes(-10),
            Expires = expires,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }
}
