using System.Buffers;
using System.Text;
using TopicBroker.Endpoints;

namespace TopicBroker.Tests.Endpoints;

/// <summary>
/// What the upgrade below HTTP takes for itself: only a plain WebSocket upgrade to a topic. Every
/// other request is handed to HTTP unchanged, so HTTP's routing and refusals still answer it.
/// </summary>
[Category("Unit")]
public sealed class WebSocketHandshakeTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    private static string Request(string target = "/ws/robots", string extraHeaders = "", string requestLine = "") =>
        (requestLine.Length > 0 ? requestLine : $"GET {target} HTTP/1.1") + "\r\n" +
        "Host: 127.0.0.1:5000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        $"Sec-WebSocket-Key: {Key}\r\nSec-WebSocket-Version: 13\r\n" + extraHeaders + "\r\n";

    private static HandshakeParse Parse(string request, out WebSocketHandshake? handshake) =>
        WebSocketHandshake.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(request)), out handshake);

    [Test]
    public void PlainUpgrade_IsTaken_WithItsTopicQueryAndHeaders()
    {
        var request = Request("/ws/robots?since=42&access_token=a.b-c_d", "Origin: http://localhost:3000\r\nAuthorization: Bearer t\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n");

        Assert.That(Parse(request, out var handshake), Is.EqualTo(HandshakeParse.Upgrade));
        Assert.That(handshake!.Topic, Is.EqualTo("robots"));
        Assert.That(handshake.Host, Is.EqualTo("127.0.0.1:5000"));
        Assert.That(handshake.Since, Is.EqualTo("42"));
        Assert.That(handshake.AccessToken, Is.EqualTo("a.b-c_d"));
        Assert.That(handshake.Origin, Is.EqualTo("http://localhost:3000"));
        Assert.That(handshake.Authorization, Is.EqualTo("Bearer t"));
        Assert.That(handshake.ForwardedFor, Is.EqualTo("10.0.0.1, 10.0.0.2"));
        Assert.That(handshake.HeadLength, Is.EqualTo(request.Length));
    }

    [Test]
    public void HeadLength_LeavesBytesSentAfterTheHead_ForTheWebSocket()
    {
        var request = Request();

        Assert.That(Parse(request + "\x81\x80", out var handshake), Is.EqualTo(HandshakeParse.Upgrade));
        Assert.That(handshake!.HeadLength, Is.EqualTo(request.Length));
    }

    [TestCase("/ws/site-1%2Forders", "site-1/orders", TestName = "A site topic with its slash escaped")]
    [TestCase("/ws/site-1%2forders", "site-1/orders", TestName = "A site topic with its slash escaped in lower case")]
    [TestCase("/ws/site-1/orders", "site-1/orders", TestName = "A site topic as two segments")]
    [TestCase("/ws/Robots", "Robots", TestName = "An upper-case name (the connection closes it with 1003, as before)")]
    public void Topic_IsWhatTheEndpointsRoutesGive(string target, string topic)
    {
        Assert.That(Parse(Request(target), out var handshake), Is.EqualTo(HandshakeParse.Upgrade));
        Assert.That(handshake!.Topic, Is.EqualTo(topic));
    }

    [TestCase("G")]
    [TestCase("GET /w")]
    [TestCase("GET /ws/robots HTTP/1.1\r\nHost: 127.0.0.1\r\n")]
    public void IncompleteUpgrade_NeedsMore(string start) =>
        Assert.That(Parse(start, out _), Is.EqualTo(HandshakeParse.NeedMore));

    [TestCase("GET /api/topics HTTP/1.1\r\nHost: x\r\n\r\n", TestName = "Another path")]
    [TestCase("POST /ws/robots HTTP/1.1\r\n", TestName = "Another method")]
    [TestCase("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", TestName = "HTTP/2")]
    [TestCase("\x16\x03\x01\x02\x00", TestName = "A TLS handshake")]
    public void NotAWebSocketRequestToATopic_IsHandedOnAtOnce(string start) =>
        Assert.That(Parse(start, out _), Is.EqualTo(HandshakeParse.NotOurs));

    [TestCase("/ws/", "", "", TestName = "No topic (HTTP answers 404)")]
    [TestCase("/ws/robots/", "", "", TestName = "A trailing slash (routing ignores it)")]
    [TestCase("/ws/%72obots", "", "", TestName = "A percent-escape (routing decodes it)")]
    [TestCase("/ws/a/b/c", "", "", TestName = "Three segments")]
    [TestCase("/ws/..", "", "", TestName = "A dot segment")]
    [TestCase("/ws/robots?since=1#x", "", "", TestName = "A fragment")]
    [TestCase("/ws/robots", "", "GET /ws/robots HTTP/1.0", TestName = "HTTP/1.0")]
    [TestCase("/ws/robots", "", "GET  /ws/robots HTTP/1.1", TestName = "Two spaces in the request line")]
    [TestCase("/ws/robots", "Host: other\r\n", "", TestName = "Two Host headers")]
    [TestCase("/ws/robots", "Origin: a\r\nOrigin: b\r\n", "", TestName = "Two Origin headers")]
    [TestCase("/ws/robots", "Content-Length: 0\r\n", "", TestName = "A body")]
    [TestCase("/ws/robots", "X-Folded: a\r\n  b\r\n", "", TestName = "A folded header line")]
    [TestCase("/ws/robots", "Bad Name: a\r\n", "", TestName = "A space in a header name")]
    [TestCase("/ws/robots", "X-Bare: a\nb\r\n", "", TestName = "A bare line feed")]
    public void UnusualUpgrade_IsHandedOnToHttp(string target, string extraHeaders, string requestLine) =>
        Assert.That(Parse(Request(target, extraHeaders, requestLine), out _), Is.EqualTo(HandshakeParse.NotOurs));

    [TestCase("Upgrade: websocket\r\n", "Upgrade: h2c\r\n", TestName = "Another upgrade")]
    [TestCase("Connection: Upgrade\r\n", "Connection: keep-alive\r\n", TestName = "No Connection: Upgrade")]
    [TestCase("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 8\r\n", TestName = "Another WebSocket version")]
    [TestCase("Sec-WebSocket-Key: " + Key + "\r\n", "Sec-WebSocket-Key: short\r\n", TestName = "A key that is not 16 bytes")]
    [TestCase("Host: 127.0.0.1:5000\r\n", "", TestName = "No Host")]
    public void NotAWebSocketRequest_IsHandedOnToHttp(string header, string replacement) =>
        Assert.That(Parse(Request().Replace(header, replacement, StringComparison.Ordinal), out _), Is.EqualTo(HandshakeParse.NotOurs));

    [Test]
    public void ConnectionHeader_MayListOtherTokens_InAnyCase()
    {
        var request = Request().Replace("Connection: Upgrade", "Connection: keep-alive, UPGRADE", StringComparison.Ordinal);

        Assert.That(Parse(request, out _), Is.EqualTo(HandshakeParse.Upgrade));
    }

    [Test]
    public void SwitchingProtocols_CarriesTheAcceptKeyOfRfc6455()
    {
        Parse(Request(), out var handshake);
        var output = new ArrayBufferWriter<byte>();

        handshake!.WriteSwitchingProtocols(output, new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

        var response = Encoding.ASCII.GetString(output.WrittenSpan);
        Assert.That(response, Does.StartWith("HTTP/1.1 101 Switching Protocols\r\n"));
        Assert.That(response, Does.Contain("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        Assert.That(response, Does.Contain("\r\nUpgrade: websocket\r\n").And.Contain("\r\nConnection: Upgrade\r\n"));
        Assert.That(response, Does.Contain("\r\nDate: Tue, 01 Dec 2026 12:00:00 GMT\r\n"));
        Assert.That(response, Does.EndWith("\r\n\r\n"));
    }
}
