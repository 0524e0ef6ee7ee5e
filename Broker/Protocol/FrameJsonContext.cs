using System.Text.Json.Serialization;

namespace TopicBroker.Protocol;

// Default mode (metadata and fast path): the fast path alone cannot carry the raw-JSON converters.
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(UpdateFrame))]
[JsonSerializable(typeof(SnapshotFrame))]
[JsonSerializable(typeof(PingFrame))]
[JsonSerializable(typeof(PongFrame))]
[JsonSerializable(typeof(ErrorFrame))]
[JsonSerializable(typeof(ShutdownFrame))]
[JsonSerializable(typeof(PublishAnswer))]
[JsonSerializable(typeof(AuthFrame))]
internal sealed partial class FrameJsonContext : JsonSerializerContext;
