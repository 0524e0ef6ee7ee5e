using System.Text;
using Microsoft.AspNetCore.Http;
using TopicBroker.Protocol.Inbound;

namespace TopicBroker.Tests.Protocol.Inbound;

/// <summary>Where a client's bearer token is read from: a request, a bridge auth line, a WebSocket auth message (protocol.md "Tokens").</summary>
[Category("Unit")]
public sealed class TokenReaderTests
{
    [TestCase("Bearer abc.def.ghi", "abc.def.ghi")]
    [TestCase("bearer abc.def.ghi", "abc.def.ghi")]
    [TestCase("Bearer   abc.def.ghi  ", "abc.def.ghi")]
    public void FromRequest_FromTheAuthorizationHeader(string header, string expected) =>
        Assert.That(TokenReader.FromRequest(Request(header, query: null)), Is.EqualTo(expected));

    [Test]
    public void FromRequest_FromAccessToken_ForBrowsers() =>
        Assert.That(TokenReader.FromRequest(Request(header: null, "?access_token=abc.def.ghi")), Is.EqualTo("abc.def.ghi"));

    [Test]
    public void FromRequest_TheHeaderWinsOverTheQuery() =>
        Assert.That(TokenReader.FromRequest(Request("Bearer from-header", "?access_token=from-query")), Is.EqualTo("from-header"));

    [TestCase(null, null, TestName = "Neither")]
    [TestCase(null, "?access_token=", TestName = "Empty access_token")]
    [TestCase("Basic dXNlcjpwYXNz", null, TestName = "Another scheme")]
    public void FromRequest_None(string? header, string? query) =>
        Assert.That(TokenReader.FromRequest(Request(header, query)), Is.Null);

    [Test]
    public void FromRequest_AnotherScheme_FallsBackToTheQuery() =>
        Assert.That(TokenReader.FromRequest(Request("Basic dXNlcjpwYXNz", "?access_token=t")), Is.EqualTo("t"));

    [TestCase("Bearer abc", "q", "abc")]
    [TestCase(null, "q", "q")]
    [TestCase("", "", null)]
    [TestCase(null, null, null)]
    public void FromRequest_RawValues_FollowTheSameRule(string? authorization, string? accessToken, string? expected) =>
        Assert.That(TokenReader.FromRequest(authorization, accessToken), Is.EqualTo(expected));

    [Test]
    public void AuthLine_GivesItsToken()
    {
        Assert.That(TokenReader.TryReadAuthLine("""{"auth":"abc.def.ghi"}"""u8, out var token), Is.True);
        Assert.That(token, Is.EqualTo("abc.def.ghi"));
    }

    [Test]
    public void AuthLine_WithANonStringToken_IsAnAuthLineWithoutAToken()
    {
        Assert.That(TokenReader.TryReadAuthLine("""{"auth":42}"""u8, out var token), Is.True);
        Assert.That(token, Is.Null);
    }

    [TestCase("""{"topic":"orders","id":"o1","data":{}}""", TestName = "A change")]
    [TestCase("""{"topic":"orders","auth":"t"}""", TestName = "Auth not first")]
    [TestCase("""not json""", TestName = "Not JSON")]
    [TestCase("""[]""", TestName = "An array")]
    [TestCase("""{"auth":"\ud800"}""", TestName = "A lone surrogate in the token")]
    public void NotAnAuthLine(string line) =>
        Assert.That(TokenReader.TryReadAuthLine(Encoding.UTF8.GetBytes(line), out _), Is.False);

    [TestCase("""{"token":"abc.def.ghi"}""", "abc.def.ghi", TestName = "The token")]
    [TestCase("""{"other":{"token":"inner"},"token":"abc"}""", "abc", TestName = "Other properties skipped")]
    [TestCase("""{"token":"first","token":"last"}""", "last", TestName = "The last token wins")]
    [TestCase("""{"token":"t\u002e1"}""", "t.1", TestName = "Escapes unescaped")]
    public void AuthData_GivesItsToken(string data, string expected) =>
        Assert.That(TokenReader.FromAuthData(Encoding.UTF8.GetBytes(data)), Is.EqualTo(expected));

    [TestCase("""{}""", TestName = "No token")]
    [TestCase("""{"token":42}""", TestName = "A number")]
    [TestCase("""{"token":null}""", TestName = "Null")]
    [TestCase("""{"token":"a","token":7}""", TestName = "The last token is not a string")]
    [TestCase("\"abc.def.ghi\"", TestName = "A bare string")]
    [TestCase("""[{"token":"t"}]""", TestName = "An array")]
    [TestCase("""{"token":"\ud800"}""", TestName = "A lone surrogate")]
    public void AuthData_WithoutAStringToken_IsNull(string data) =>
        Assert.That(TokenReader.FromAuthData(Encoding.UTF8.GetBytes(data)), Is.Null);

    private static HttpRequest Request(string? header, string? query)
    {
        var context = new DefaultHttpContext();
        if (header is not null)
        {
            context.Request.Headers.Authorization = header;
        }

        if (query is not null)
        {
            context.Request.QueryString = new QueryString(query);
        }

        return context.Request;
    }
}
