using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Testing;

/// <summary>
/// Mints HS256 JWTs the way an operator's token service would (protocol.md "Security"). Written
/// by hand, an HMAC over two base64url parts, so the tokens do not come from the library that
/// validates them (Microsoft.IdentityModel in the broker).
/// </summary>
public static class TestTokens
{
    public const string Key = "test-signing-key-that-is-long-enough-for-hs256";
    public const string OtherKey = "another-signing-key-that-is-long-enough-for-hs256";

    /// <summary>In-process broker settings that require tokens signed with <see cref="Key"/>, plus <paramref name="more"/>.</summary>
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

    /// <summary>A fresh signing key: 64 hex characters (the broker uses its UTF-8 bytes).</summary>
    public static string NewSigningKey() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// A token with the <c>subscribe</c> and <c>publish</c> grants given (absent when null), valid
    /// from <paramref name="notBeforeIn"/> (default five minutes ago) until <paramref name="expiresIn"/>
    /// (default an hour) from <paramref name="now"/> (default the system clock).
    /// </summary>
    public static string Create(
        string[]? subscribe = null,
        string[]? publish = null,
        TimeSpan? expiresIn = null,
        TimeSpan? notBeforeIn = null,
        string key = Key,
        string subject = "test-client",
        DateTimeOffset? now = null)
    {
        var issued = now ?? DateTimeOffset.UtcNow;
        var expires = issued + (expiresIn ?? TimeSpan.FromHours(1));
        var notBefore = issued + (notBeforeIn ?? TimeSpan.FromMinutes(-5));
        // A token already expired at issue still needs nbf and iat before exp.
        if (notBefore >= expires)
        {
            notBefore = expires.AddMinutes(-10);
        }

        using var payload = new MemoryStream();
        using (var writer = new Utf8JsonWriter(payload))
        {
            writer.WriteStartObject();
            writer.WriteString("sub", subject);
            WriteGrants(writer, "subscribe", subscribe);
            WriteGrants(writer, "publish", publish);
            writer.WriteNumber("iat", notBefore.ToUnixTimeSeconds());
            writer.WriteNumber("nbf", notBefore.ToUnixTimeSeconds());
            writer.WriteNumber("exp", expires.ToUnixTimeSeconds());
            writer.WriteEndObject();
        }

        var signed = Base64Url.EncodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"u8) + "." + Base64Url.EncodeToString(payload.ToArray());
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.ASCII.GetBytes(signed));
        return signed + "." + Base64Url.EncodeToString(signature);
    }

    private static void WriteGrants(Utf8JsonWriter writer, string name, string[]? topics)
    {
        if (topics is null)
        {
            return;
        }

        writer.WriteStartArray(name);
        foreach (var topic in topics)
        {
            writer.WriteStringValue(topic);
        }

        writer.WriteEndArray();
    }
}
