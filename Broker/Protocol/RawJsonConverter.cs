using System.Text.Json;
using System.Text.Json.Serialization;

namespace TopicBroker.Protocol;

/// <summary>
/// Writes bytes that are already a validated JSON value as they are. Entity data is validated once
/// at ingest and then sent verbatim (protocol.md "Concepts"), so re-parsing it per frame would only
/// cost time and could rewrite the publisher's formatting.
/// </summary>
internal sealed class RawJsonConverter : JsonConverter<byte[]>
{
    public override byte[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Frames are only written.");

    public override void Write(Utf8JsonWriter writer, byte[] value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value, skipInputValidation: true);
}

/// <summary>Writes a snapshot's id-to-data map with each value verbatim.</summary>
internal sealed class RawEntityMapConverter : JsonConverter<IReadOnlyDictionary<string, byte[]>>
{
    public override IReadOnlyDictionary<string, byte[]> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Frames are only written.");

    public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, byte[]> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (id, data) in value)
        {
            writer.WritePropertyName(id);
            writer.WriteRawValue(data, skipInputValidation: true);
        }

        writer.WriteEndObject();
    }
}
