using Microsoft.AspNetCore.Http;
using TopicBroker.Endpoints;

namespace TopicBroker.Tests.Endpoints;

/// <summary>Where a request's bearer token is read from (protocol.md "Security").</summary>
[Category("Unit")]
public sealed class JsonAnswersTests
{
    [TestCase("Bearer abc.def.ghi", "abc.def.ghi")]
    [TestCase("bearer abc.def.ghi", "abc.def.ghi")]
    [TestCase("Bearer   abc.def.ghi  ", "abc.def.ghi")]
    public void ReadToken_FromTheAuthorizationHeader(string header, string expected) =>
        Assert.That(JsonAnswers.ReadToken(Request(header, query: null)), Is.EqualTo(expected));

    [Test]
    public void ReadToken_FromAccessToken_ForBrowsers() =>
        Assert.That(JsonAnswers.ReadToken(Request(header: null, "?access_token=abc.def.ghi")), Is.EqualTo("abc.def.ghi"));

    [Test]
    public void ReadToken_TheHeaderWinsOverTheQuery() =>
        Assert.That(JsonAnswers.ReadToken(Request("Bearer from-header", "?access_token=from-query")), Is.EqualTo("from-header"));

    [TestCase(null, null, TestName = "Neither")]
    [TestCase(null, "?access_token=", TestName = "Empty access_token")]
    [TestCase("Basic dXNlcjpwYXNz", null, TestName = "Another scheme")]
    public void ReadToken_None(string? header, string? query) =>
        Assert.That(JsonAnswers.ReadToken(Request(header, query)), Is.Null);

    [Test]
    public void ReadToken_AnotherScheme_FallsBackToTheQuery() =>
        Assert.That(JsonAnswers.ReadToken(Request("Basic dXNlcjpwYXNz", "?access_token=t")), Is.EqualTo("t"));

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
