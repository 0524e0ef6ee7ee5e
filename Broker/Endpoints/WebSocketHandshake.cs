using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace TopicBroker.Endpoints;

/// <summary>What <see cref="WebSocketHandshake.TryParse"/> made of the bytes read so far.</summary>
internal enum HandshakeParse
{
    /// <summary>Could still become a WebSocket upgrade to <c>/ws/</c>: read more.</summary>
    NeedMore,

    /// <summary>Anything else, or anything unusual: HTTP handles it, unchanged.</summary>
    NotOurs,

    /// <summary>A complete, plain WebSocket upgrade to a topic.</summary>
    Upgrade,
}

/// <summary>
/// A WebSocket upgrade request to <c>/ws/{topic}</c> read straight from the connection's bytes,
/// for the upgrade below HTTP (<see cref="WebSocketUpgradeMiddleware"/>). Only the plain form is
/// taken: an HTTP/1.1 GET with a path of unescaped characters (site topics' <c>%2F</c> aside),
/// each header it reads present once, and no body. Everything else (percent-escapes, a trailing
/// slash, a repeated header, a non-WebSocket request) is <see cref="HandshakeParse.NotOurs"/>, so
/// HTTP's rules (routing, decoding, 400s) answer it exactly as they always have.
/// </summary>
internal sealed class WebSocketHandshake
{
    /// <summary>A request head longer than this goes to HTTP (Kestrel's own limits judge it).</summary>
    internal const int MaxHeadBytes = 8 * 1024;

    private static byte[] HeadCharacters()
    {
        var characters = new List<byte> { (byte)'\t', (byte)'\r', (byte)'\n' };
        for (var b = 0x20; b <= 0x7E; b++)
        {
            characters.Add((byte)b);
        }

        return [.. characters];
    }

    private static ReadOnlySpan<byte> Prefix => "GET /ws/"u8;

    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    private static readonly SearchValues<byte> s_headBytes = SearchValues.Create(HeadCharacters());

    private static readonly SearchValues<byte> s_tokenBytes = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"u8);

    private const string SegmentCharacters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

    private static readonly SearchValues<char> s_segmentCharacters = SearchValues.Create(SegmentCharacters);

    private static readonly SearchValues<byte> s_segmentBytes = SearchValues.Create(Encoding.ASCII.GetBytes(SegmentCharacters));

    /// <summary>Unreserved, sub-delims, ':', '@', '/', '?' and '%' (RFC 3986 query); anything else goes to HTTP.</summary>
    private static readonly SearchValues<byte> s_queryBytes =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%"u8);

    /// <summary>A host name or address and a port; anything else Kestrel judges.</summary>
    private static readonly SearchValues<char> s_hostCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.:[]");

    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private WebSocketHandshake(string topic, string host, string key)
    {
        Topic = topic;
        Host = host;
        Key = key;
    }

    /// <summary>The topic as the endpoint's routes name it.</summary>
    public string Topic { get; }

    public string Host { get; }

    public string Key { get; }

    public string? Origin { get; private set; }

    public string? Authorization { get; private set; }

    public string? AccessToken { get; private set; }

    public string? Since { get; private set; }

    public string? ForwardedFor { get; private set; }

    /// <summary>Bytes of the request head, up to and including its blank line.</summary>
    public int HeadLength { get; private set; }

    public static HandshakeParse TryParse(ReadOnlySequence<byte> buffer, out WebSocketHandshake? handshake)
    {
        handshake = null;
        var available = (int)Math.Min(buffer.Length, MaxHeadBytes);
        ReadOnlySpan<byte> bytes;
        if (buffer.IsSingleSegment)
        {
            bytes = buffer.FirstSpan[..available];
        }
        else
        {
            var copy = new byte[available];
            buffer.Slice(0, available).CopyTo(copy);
            bytes = copy;
        }

        var prefixLength = Math.Min(bytes.Length, Prefix.Length);
        if (!bytes[..prefixLength].SequenceEqual(Prefix[..prefixLength]))
        {
            return HandshakeParse.NotOurs;
        }

        var end = bytes.IndexOf(HeadEnd);
        if (end < 0)
        {
            return buffer.Length >= MaxHeadBytes ? HandshakeParse.NotOurs : HandshakeParse.NeedMore;
        }

        var head = bytes[..end];
        // Visible ASCII, space, tab and CRLF line ends only; anything else is HTTP's to judge.
        if (head.ContainsAnyExcept(s_headBytes) || HasBareLineEnd(head))
        {
            return HandshakeParse.NotOurs;
        }

        handshake = Parse(head);
        if (handshake is null)
        {
            return HandshakeParse.NotOurs;
        }

        handshake.HeadLength = end + HeadEnd.Length;
        return HandshakeParse.Upgrade;
    }

    private static bool HasBareLineEnd(ReadOnlySpan<byte> head)
    {
        for (var i = 0; i < head.Length; i++)
        {
            if ((head[i] == '\r' && (i + 1 == head.Length || head[i + 1] != '\n')) || (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Parses a head of visible ASCII lines; the only strings made are the values kept.</summary>
    private static WebSocketHandshake? Parse(ReadOnlySpan<byte> head)
    {
        var lineEnd = head.IndexOf("\r\n"u8);
        var requestLine = lineEnd < 0 ? head : head[..lineEnd];
        var rest = lineEnd < 0 ? [] : head[(lineEnd + 2)..];

        // "GET " target " HTTP/1.1", one space each.
        if (!requestLine.EndsWith(" HTTP/1.1"u8) || !requestLine.StartsWith("GET "u8))
        {
            return null;
        }

        var target = requestLine["GET ".Length..^" HTTP/1.1".Length];
        if (target.Contains((byte)' '))
        {
            return null;
        }

        var queryStart = target.IndexOf((byte)'?');
        var topic = TopicOf(queryStart < 0 ? target : target[..queryStart]);
        if (topic is null || (queryStart >= 0 && target[(queryStart + 1)..].ContainsAnyExcept(s_queryBytes)))
        {
            return null;
        }

        string? host = null, key = null, origin = null, authorization = null, forwardedFor = null;
        bool upgrade = false, connectionUpgrade = false, version = false;
        var seen = Seen.None;
        while (!rest.IsEmpty)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            var line = lineEnd < 0 ? rest : rest[..lineEnd];
            rest = lineEnd < 0 ? [] : rest[(lineEnd + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[..colon].ContainsAnyExcept(s_tokenBytes))
            {
                return null;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            var header = HeaderOf(name);
            if (header == Seen.Body)
            {
                // A body on an upgrade request: HTTP's rules decide.
                return null;
            }

            if (header == Seen.None)
            {
                continue;
            }

            if ((seen & header) != 0)
            {
                return null;
            }

            seen |= header;
            switch (header)
            {
                case Seen.Host: host = Encoding.ASCII.GetString(value); break;
                case Seen.Upgrade: upgrade = Ascii.EqualsIgnoreCase(value, "websocket"u8); break;
                case Seen.Connection: connectionUpgrade = HasToken(value, "Upgrade"u8); break;
                case Seen.Key: key = Encoding.ASCII.GetString(value); break;
                case Seen.Version: version = value.SequenceEqual("13"u8); break;
                case Seen.Origin: origin = Encoding.ASCII.GetString(value); break;
                case Seen.Authorization: authorization = Encoding.ASCII.GetString(value); break;
                case Seen.ForwardedFor: forwardedFor = Encoding.ASCII.GetString(value); break;
            }
        }

        // What ASP.NET's WebSocket middleware calls a WebSocket request (RFC 6455 section 4.2.1).
        if (string.IsNullOrEmpty(host) || host.AsSpan().ContainsAnyExcept(s_hostCharacters)
            || !upgrade || !connectionUpgrade || !version || !IsValidKey(key))
        {
            return null;
        }

        var query = queryStart < 0 ? null : QueryHelpers.ParseNullableQuery(Encoding.ASCII.GetString(target[queryStart..]));
        return new WebSocketHandshake(topic, host, key!)
        {
            Origin = origin,
            Authorization = authorization,
            ForwardedFor = forwardedFor,
            AccessToken = query is not null && query.TryGetValue("access_token", out var token) ? token.ToString() : null,
            Since = query is not null && query.TryGetValue("since", out var since) ? since.ToString() : null,
        };
    }

    [Flags]
    private enum Seen
    {
        None = 0,
        Host = 1,
        Upgrade = 2,
        Connection = 4,
        Key = 8,
        Version = 16,
        Origin = 32,
        Authorization = 64,
        ForwardedFor = 128,
        Body = 256,
    }

    private static Seen HeaderOf(ReadOnlySpan<byte> name) =>
        Ascii.EqualsIgnoreCase(name, "Host"u8) ? Seen.Host
        : Ascii.EqualsIgnoreCase(name, "Upgrade"u8) ? Seen.Upgrade
        : Ascii.EqualsIgnoreCase(name, "Connection"u8) ? Seen.Connection
        : Ascii.EqualsIgnoreCase(name, "Sec-WebSocket-Key"u8) ? Seen.Key
        : Ascii.EqualsIgnoreCase(name, "Sec-WebSocket-Version"u8) ? Seen.Version
        : Ascii.EqualsIgnoreCase(name, "Origin"u8) ? Seen.Origin
        : Ascii.EqualsIgnoreCase(name, "Authorization"u8) ? Seen.Authorization
        : Ascii.EqualsIgnoreCase(name, "X-Forwarded-For"u8) ? Seen.ForwardedFor
        : Ascii.EqualsIgnoreCase(name, "Content-Length"u8) || Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8) ? Seen.Body
        : Seen.None;

    /// <summary>Whether a comma-separated header value lists <paramref name="token"/> (any case).</summary>
    private static bool HasToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (var range in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[range].Trim(" \t"u8), token))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The topic of <c>/ws/{topic}</c> or <c>/ws/{site}/{topic}</c>, as WebSocketEndpoint's routes
    /// give it, for paths routing would not change; null for any other path.
    /// </summary>
    private static string? TopicOf(ReadOnlySpan<byte> path)
    {
        var rest = path["/ws/".Length..];
        var slash = rest.IndexOf((byte)'/');
        if (slash >= 0)
        {
            // /ws/{site}/{topic}: two plain segments, nothing escaped.
            var site = rest[..slash];
            var name = rest[(slash + 1)..];
            return IsPlainSegment(site) && IsPlainSegment(name)
                ? Encoding.ASCII.GetString(site) + "/" + Encoding.ASCII.GetString(name)
                : null;
        }

        // /ws/{topic}: a site topic's '/' may come as %2F, the one escape routing leaves in.
        var topic = Encoding.ASCII.GetString(rest).Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        var plain = topic.Replace("/", string.Empty, StringComparison.Ordinal);
        return rest.Length > 0 && plain.Length > 0 && plain is not ("." or "..") && !plain.AsSpan().ContainsAnyExcept(s_segmentCharacters) ? topic : null;
    }

    private static bool IsPlainSegment(ReadOnlySpan<byte> segment) =>
        segment.Length > 0 && !segment.SequenceEqual("."u8) && !segment.SequenceEqual(".."u8) && !segment.ContainsAnyExcept(s_segmentBytes);

    private static bool IsValidKey(string? key)
    {
        Span<byte> decoded = stackalloc byte[24];
        return key is { Length: 24 } && Convert.TryFromBase64String(key, decoded, out var length) && length == 16;
    }

    /// <summary>
    /// Writes the 101 answer, with the headers Kestrel and ASP.NET's WebSocket middleware send,
    /// and Sec-WebSocket-Accept for <see cref="Key"/> (RFC 6455 section 4.2.2).
    /// </summary>
    public void WriteSwitchingProtocols(IBufferWriter<byte> output, DateTimeOffset now)
    {
        Span<byte> keyAndGuid = stackalloc byte[Key.Length + AcceptGuid.Length];
        Encoding.ASCII.GetBytes(Key, keyAndGuid);
        Encoding.ASCII.GetBytes(AcceptGuid, keyAndGuid[Key.Length..]);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(keyAndGuid, hash);
        Span<byte> accept = stackalloc byte[Base64.GetMaxEncodedToUtf8Length(SHA1.HashSizeInBytes)];
        Base64.EncodeToUtf8(hash, accept, out _, out var acceptLength);

        var span = output.GetSpan(256);
        var written = 0;
        Append(span, ref written, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nDate: "u8);
        now.UtcDateTime.TryFormat(span[written..], out var dateLength, "r", CultureInfo.InvariantCulture);
        written += dateLength;
        Append(span, ref written, "\r\nServer: Kestrel\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: "u8);
        Append(span, ref written, accept[..acceptLength]);
        Append(span, ref written, "\r\n\r\n"u8);
        output.Advance(written);
    }

    private static void Append(Span<byte> destination, ref int written, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination[written..]);
        written += bytes.Length;
    }
}
