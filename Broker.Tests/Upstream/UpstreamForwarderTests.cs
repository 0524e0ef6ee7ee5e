using System.Net.Http.Json;
using System.Text.Json;
using Serilog.Events;

namespace TopicBroker.Tests.Upstream;

/// <summary>
/// A restaurant broker whose head office answers something malformed (protocol.md "The upstream
/// link"): the restaurant stays up, logs and counts the protocol error, drops that link and
/// resumes from the next welcome, so the real head office behind the relay gets every change
/// exactly once, in order.
/// </summary>
public sealed class UpstreamForwarderTests
{
    private static readonly Dictionary<string, string?> HeadOfficeSettings = new()
    {
        ["Broker:Sites:Enabled"] = "true",
        ["Broker:Samples:Enabled"] = "false",
    };

    private static Dictionary<string, string?> RestaurantSettings(Uri headOffice) => new()
    {
        ["Broker:Samples:Enabled"] = "false",
        ["Broker:Upstream:Url"] = headOffice.ToString(),
        ["Broker:Upstream:Site"] = "site-1",
        ["Broker:Upstream:Topics:0"] = "orders",
        ["Broker:Upstream:ReconnectDelay"] = "00:00:00.050",
        ["Broker:Upstream:MaxReconnectDelay"] = "00:00:00.200",
    };

    // A head-office answer after the first ack, with the error code the restaurant reports.
    [TestCase("""{"type":"ack","topic":"orders","seq":"x"}""", "invalid_json", TestName = "AckSeqAString_IsAProtocolError_AndNothingIsLostOrDuplicated")]
    [TestCase("""{"type":"ack","topic":"orders","seq":1.5}""", "invalid_json", TestName = "AckSeqNotAnInteger_IsAProtocolError_AndNothingIsLostOrDuplicated")]
    [TestCase("""{"type":"ack","topic":7,"seq":1}""", "unknown_topic", TestName = "AckTopicNotAString_IsAProtocolError_AndNothingIsLostOrDuplicated")]
    [TestCase("""["ack"]""", "invalid_json", TestName = "AnswerNotAnObject_IsAProtocolError_AndNothingIsLostOrDuplicated")]
    [TestCase("""{"type":"surprise"}""", "unknown_type", TestName = "AnswerOfUnknownType_IsAProtocolError_AndNothingIsLostOrDuplicated")]
    public async Task MalformedAnswer_DropsTheLink_AndTheHeadOfficeGetsEveryChangeOnce(string malformed, string code) =>
        await RunAsync(malformed, code, insteadOfWelcome: false);

    [TestCase("""{"type":"welcome","site":"site-1","topics":{"orders":{"seq":"x"}}}""", "invalid_data", TestName = "WelcomeSeqAString_IsAProtocolError_AndNothingIsLostOrDuplicated")]
    [TestCase("""{"type":"welcome","site":"site-1","topics":{"orders":{"seq":2.5}}}""", "invalid_data", TestName = "WelcomeSeqNotAnInteger_IsAProtocolError_AndNothingIsLostOrDuplicated")]
    [TestCase("\"welcome\"", "invalid_json", TestName = "WelcomeNotAnObject_IsAProtocolError_AndNothingIsLostOrDuplicated")]
    public async Task MalformedWelcome_DropsTheLink_AndTheHeadOfficeGetsEveryChangeOnce(string malformed, string code) =>
        await RunAsync(malformed, code, insteadOfWelcome: true);

    private static async Task RunAsync(string malformed, string code, bool insteadOfWelcome)
    {
        await using var headOffice = await BrokerHost.StartAsync(HeadOfficeSettings);
        await using var screen = await headOffice.ConnectAsync("site-1/orders");
        await screen.ReceiveFrameAsync("snapshot");
        await using var relay = await HeadOfficeRelay.StartAsync(headOffice.HttpUri, malformed, insteadOfWelcome);
        await using var restaurant = await BrokerHost.StartAsync(RestaurantSettings(relay.HttpUri));

        for (var i = 1; i <= 3; i++)
        {
            await restaurant.PublishAsync("orders", "o" + i, $$"""{"n":{{i}}}""");
        }

        await relay.MalformedSent.Task.DefaultTimeout();
        static bool IsProtocolError(LogEvent e, string code) => e.Level == LogEventLevel.Warning
            && e.Properties.TryGetValue("ErrorCode", out var value) && value is ScalarValue { Value: string c } && c == code;
        await restaurant.WaitForLogAsync(e => IsProtocolError(e, code));
        Assert.That(restaurant.LogEvents.First(e => IsProtocolError(e, code)).RenderMessage(), Does.Contain("malformed"));
        await relay.Links.WaitForAsync(n => n == 2);

        long last = 0;
        for (var i = 4; i <= 6; i++)
        {
            last = await restaurant.PublishAsync("orders", "o" + i, $$"""{"n":{{i}}}""");
        }

        var seqs = new List<long>();
        while (seqs.Count == 0 || seqs[^1] < last)
        {
            var frame = await screen.ReceiveFrameAsync("update");
            seqs.Add(frame.GetProperty("seq").GetInt64());
        }

        Assert.That(seqs, Is.EqualTo(new long[] { 1, 2, 3, 4, 5, 6 }), "every change once, in the restaurant's order");
        using (var http = headOffice.CreateHttpClient())
        {
            var status = await http.GetFromJsonAsync<JsonElement>("/api/status").DefaultTimeout();
            Assert.That(status.GetProperty("topics").GetProperty("site-1/orders").GetProperty("updatesIn").GetInt64(), Is.EqualTo(last), "each change applied once");
        }

        // The restaurant stayed up and reports the error.
        using (var http = restaurant.CreateHttpClient())
        {
            var upstream = (await http.GetFromJsonAsync<JsonElement>("/api/status").DefaultTimeout()).GetProperty("upstream");
            Assert.That(upstream.GetProperty("protocolErrors").GetInt64(), Is.EqualTo(1));
            Assert.That(upstream.GetProperty("connected").GetBoolean(), Is.True);
        }
    }
}
