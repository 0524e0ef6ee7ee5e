namespace TopicBroker.Tests.Samples;

/// <summary>Lines of the TCP bridge protocol (protocol.md "TCP bridge").</summary>
internal static class BridgeLine
{
    public static string Upsert(string topic, string id, string dataJson) =>
        $$"""{"topic":"{{topic}}","id":"{{id}}","data":{{dataJson}}}""";

    public static string Delete(string topic, string id) =>
        $$"""{"topic":"{{topic}}","id":"{{id}}","op":"delete"}""";
}
