using System.Text.Json;

namespace TopicBroker.Protocol.Inbound;

/// <summary>
/// Where a client's bearer token arrives (protocol.md "Tokens"): on an HTTP request or WebSocket
/// upgrade, as the bridge's auth line, and in a WebSocket <c>auth</c> message that refreshes it.
/// Reading only; <see cref="Security.TokenValidator"/> judges what is read.
/// </summary>
internal static class TokenReader
{
    /// <summary>The bearer token of a request: the Authorization header, or <c>access_token</c> for browsers, which cannot set headers on a WebSocket.</summary>
    public static string? FromRequest(HttpRequest request) =>
        FromRequest(request.Headers.Authorization.ToString(), request.Query["access_token"].ToString());

    /// <summary>The same rule from the raw Authorization header and <c>access_token</c> query value, for code that reads them itself.</summary>
    public static string? FromRequest(string? authorization, string? accessToken)
    {
        authorization ??= string.Empty;
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        return string.IsNullOrEmpty(accessToken) ? null : accessToken;
    }

    /// <summary>Whether a bridge line is an auth line, <c>{"auth":"&lt;token&gt;"}</c>, and its token (null if not a string).</summary>
    public static bool TryReadAuthLine(ReadOnlySpan<byte> line, out string? token)
    {
        token = null;
        try
        {
            var reader = new Utf8JsonReader(line, EntityRules.ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject
                || !reader.Read() || reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("auth"u8))
            {
                return false;
            }

            reader.Read();
            token = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// The token of a WebSocket <c>auth</c> message's data, <c>{"token":"..."}</c>; null when the data
    /// is not an object or its (last) <c>token</c> is not a string.
    /// </summary>
    public static string? FromAuthData(ReadOnlySpan<byte> data)
    {
        string? token = null;
        try
        {
            var reader = new Utf8JsonReader(data, EntityRules.ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isToken = reader.ValueTextEquals("token"u8);
                reader.Read();
                if (isToken)
                {
                    token = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }

                reader.Skip();
            }

            return token;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
