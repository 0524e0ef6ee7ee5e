using System.Text.Json.Serialization;

namespace TopicBroker.Protocol;

// The server-to-client frames of protocol.md "Frames". Property order is wire order.

internal sealed record UpdateFrame(
    string Topic,
    long Seq,
    string Id,
    string Op,
    [property: JsonConverter(typeof(RawJsonConverter))] byte[]? Data)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Update;
}

internal sealed record SnapshotFrame(
    string Topic,
    long Seq,
    [property: JsonConverter(typeof(RawEntityMapConverter))] IReadOnlyDictionary<string, byte[]> Data)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Snapshot;
}

internal sealed record PingFrame(string Topic, PingData Data)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Ping;
}

internal readonly record struct PingData(long Timestamp);

internal sealed record PongFrame(
    string Topic,
    [property: JsonConverter(typeof(RawJsonConverter))] byte[]? Data)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Pong;
}

internal sealed record ErrorFrame(string Topic, ErrorData Data)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Error;
}

internal readonly record struct ErrorData(string Code, string Message);

internal sealed record ShutdownFrame(string Topic, ShutdownData Data)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Shutdown;
}

internal readonly record struct ShutdownData(string Reason, long ReconnectAfterMs, long ResumeFrom);

/// <summary>The answer to a client's in-band token refresh (protocol.md "Security").</summary>
internal sealed record AuthFrame(string Topic, AuthData Data)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Auth;
}

internal readonly record struct AuthData(bool Ok, long? ExpiresAt);

/// <summary>The answer to one bridge line or HTTP publish (protocol.md "TCP bridge" and "HTTP API").</summary>
internal sealed record PublishAnswer(
    bool Ok,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Seq,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Message);

internal static class FrameTypes
{
    public const string Update = "update";
    public const string Snapshot = "snapshot";
    public const string Ping = "ping";
    public const string Pong = "pong";
    public const string Error = "error";
    public const string Shutdown = "shutdown";
    public const string Auth = "auth";
}

internal static class ChangeOps
{
    public const string Upsert = "upsert";
    public const string Delete = "delete";
}
