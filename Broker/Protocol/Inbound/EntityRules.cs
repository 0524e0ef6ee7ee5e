using System.Text.Json;
using System.Text.Unicode;

namespace TopicBroker.Protocol.Inbound;

/// <summary>
/// What an entity must be, wherever it comes from (bridge line, HTTP, replication link, a row another
/// program wrote): an id of 1 to 256 characters and data that is one UTF-8 JSON object nested at most
/// 64 deep (protocol.md "TCP bridge", "HTTP API"). The only place these rules and their messages live.
/// </summary>
internal static class EntityRules
{
    public const int MaxIdLength = 256;

    public const string IdRule = "'id' must be a non-empty string of at most 256 characters.";
    public const string DataRule = "'data' must be a JSON object.";
    public const string UpsertNeedsData = "An upsert needs 'data', a JSON object.";
    public const string OpRule = "'op' must be \"upsert\" or \"delete\".";

    /// <summary>Every inbound reader takes JSON nested at most this deep.</summary>
    public static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    public static bool IsValidId(string? id) => !string.IsNullOrEmpty(id) && id.Length <= MaxIdLength;

    public static bool TryValidateId(string? id, out InboundError error)
    {
        if (IsValidId(id))
        {
            error = default;
            return true;
        }

        error = new InboundError(ErrorCodes.InvalidId, IdRule);
        return false;
    }

    /// <summary>Whether <paramref name="data"/> is exactly one JSON object.</summary>
    public static bool IsJsonObject(ReadOnlySpan<byte> data) => CheckData(data) == DataShape.Object;

    /// <summary>What <paramref name="data"/> holds, judged against "one UTF-8 JSON object".</summary>
    public static DataShape CheckData(ReadOnlySpan<byte> data)
    {
        if (!Utf8.IsValid(data))
        {
            return DataShape.NotUtf8;
        }

        try
        {
            // Empty input, or anything after the first value but whitespace, throws: one value only.
            var reader = new Utf8JsonReader(data, ReaderOptions);
            reader.Read();
            var isObject = reader.TokenType == JsonTokenType.StartObject;
            reader.Skip();
            reader.Read();
            return isObject ? DataShape.Object : DataShape.NotObject;
        }
        catch (JsonException)
        {
            return DataShape.NotJson;
        }
    }
}
