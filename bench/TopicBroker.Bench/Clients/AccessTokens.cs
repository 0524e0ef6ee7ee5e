using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace TopicBroker.Bench.Clients;

/// <summary>
/// HS256 tokens for a broker that requires them (protocol.md "Security"): the benchmark needs
/// every right on every topic, for long enough to outlive any run. The broker validates them
/// with Microsoft.IdentityModel; minting one is only an HMAC over two base64url parts.
/// </summary>
internal static class AccessTokens
{
    private static readonly TimeSpan s_lifetime = TimeSpan.FromHours(6);

    /// <summary>A fresh signing key for a broker the tool starts with --auth: 64 hex characters (the broker uses its UTF-8 bytes).</summary>
    public static string NewSigningKey() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32));

    public static string Mint(string signingKey)
    {
        var now = DateTimeOffset.UtcNow;
        var header = Base64Url.EncodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"u8);
        using var payloadStream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(payloadStream))
        {
            writer.WriteStartObject();
            writer.WriteString("sub", "topicbroker-bench");
            writer.WriteStartArray("subscribe");
            writer.WriteStringValue("*");
            writer.WriteEndArray();
            writer.WriteStartArray("publish");
            writer.WriteStringValue("*");
            writer.WriteEndArray();
            writer.WriteNumber("iat", now.ToUnixTimeSeconds());
            writer.WriteNumber("exp", now.Add(s_lifetime).ToUnixTimeSeconds());
            writer.WriteEndObject();
        }

        var payload = Base64Url.EncodeToString(payloadStream.ToArray());
        var signed = $"{header}.{payload}";
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), Encoding.ASCII.GetBytes(signed));
        return $"{signed}.{Base64Url.EncodeToString(signature)}";
    }
}
