using System.Text.Json;
using System.Text.Unicode;
using TopicBroker.Protocol;
using TopicBroker.Topics;

namespace TopicBroker.Ingest;

/// <summary>
/// A validated change, ready for the pipeline. Data null means delete. <paramref name="ReplicatedSeq"/>
/// is the seq a replication link brings (protocol.md "Sites and upstream replication"); 0 lets the pipeline assign one.
/// </summary>
internal readonly record struct ParsedChange(TopicState Topic, string Id, byte[]? Data, long ReplicatedSeq = 0);

/// <summary>
/// Validates publish input, shared by the TCP bridge (whole lines) and HTTP (route plus body), so
/// both answer the same error codes (protocol.md "TCP bridge").
/// </summary>
internal sealed class ChangeParser(TopicRegistry topics)
{
    public const int MaxIdLength = 256;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    /// <summary>Parses one bridge line: <c>{"topic","id","op"?,"data"?}</c>.</summary>
    public bool TryParseLine(ReadOnlySpan<byte> line, out ParsedChange change, out PublishResult error)
    {
        change = default;
        if (!Utf8.IsValid(line))
        {
            error = PublishResult.Rejected(ErrorCodes.InvalidJson, "The line is not valid UTF-8.");
            return false;
        }

        string? topicName = null, id = null, op = null;
        bool idWrongType = false, topicWrongType = false, opWrongType = false;
        byte[]? data = null;
        var dataIsObject = false;
        var hasData = false;
        try
        {
            var reader = new Utf8JsonReader(line, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = PublishResult.Rejected(ErrorCodes.InvalidJson, "A line must be one JSON object.");
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("topic"u8))
                {
                    reader.Read();
                    topicWrongType = reader.TokenType != JsonTokenType.String;
                    topicName = topicWrongType ? null : reader.GetString();
                }
                else if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    idWrongType = reader.TokenType != JsonTokenType.String;
                    id = idWrongType ? null : reader.GetString();
                }
                else if (reader.ValueTextEquals("op"u8))
                {
                    reader.Read();
                    opWrongType = reader.TokenType != JsonTokenType.String;
                    op = opWrongType ? null : reader.GetString();
                }
                else if (reader.ValueTextEquals("data"u8))
                {
                    reader.Read();
                    hasData = reader.TokenType != JsonTokenType.Null;
                    dataIsObject = reader.TokenType == JsonTokenType.StartObject;
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    data = dataIsObject ? line[start..(int)reader.BytesConsumed].ToArray() : null;
                    continue;
                }
                else
                {
                    reader.Read();
                }

                reader.Skip();
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                error = PublishResult.Rejected(ErrorCodes.InvalidJson, "A line must be exactly one JSON object.");
                return false;
            }
        }
        catch (JsonException)
        {
            error = PublishResult.Rejected(ErrorCodes.InvalidJson, "The line is not valid JSON.");
            return false;
        }
        catch (InvalidOperationException)
        {
            // GetString on a string with an invalid escape sequence.
            error = PublishResult.Rejected(ErrorCodes.InvalidJson, "The line holds an invalid string.");
            return false;
        }

        if (topicWrongType)
        {
            error = PublishResult.Rejected(ErrorCodes.UnknownTopic, "'topic' must be a string.");
            return false;
        }

        if (!TryGetTopic(topicName, out var topic, out error))
        {
            return false;
        }

        if (idWrongType || !TryValidateId(id, out error))
        {
            error = PublishResult.Rejected(ErrorCodes.InvalidId, IdRule);
            return false;
        }

        if (opWrongType || op is not (null or ChangeOps.Upsert or ChangeOps.Delete))
        {
            error = PublishResult.Rejected(ErrorCodes.InvalidOp, "'op' must be \"upsert\" or \"delete\".");
            return false;
        }

        if (op == ChangeOps.Delete)
        {
            change = new ParsedChange(topic, id!, null);
            error = default;
            return true;
        }

        if (!dataIsObject)
        {
            error = PublishResult.Rejected(ErrorCodes.InvalidData, hasData ? "'data' must be a JSON object." : "An upsert needs 'data', a JSON object.");
            return false;
        }

        change = new ParsedChange(topic, id!, data);
        error = default;
        return true;
    }

    /// <summary>Whether a line is an auth line, <c>{"auth":"&lt;token&gt;"}</c>, and its token (null if not a string).</summary>
    public static bool TryReadAuthLine(ReadOnlySpan<byte> line, out string? token)
    {
        token = null;
        try
        {
            var reader = new Utf8JsonReader(line, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject
                || !reader.Read() || reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("auth"u8))
            {
                return false;
            }

            reader.Read();
            token = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    public bool TryGetTopic(string? name, out TopicState topic, out PublishResult error)
    {
        if (name is not null && topics.IsSiteTopicName(name, out var site, out _))
        {
            // Site topics hold the restaurant's own seqs; only its replication link writes them.
            topic = null!;
            error = PublishResult.Rejected(ErrorCodes.ReplicatedTopic, $"'{Clip(name)}' is replicated from site '{site}'; only that site's replication link writes it.");
            return false;
        }

        if (name is not null && topics.TryGet(name, out topic!))
        {
            error = default;
            return true;
        }

        topic = null!;
        error = PublishResult.Rejected(ErrorCodes.UnknownTopic, name is null ? "'topic' is missing." : $"Unknown topic '{Clip(name)}'.");
        return false;
    }

    public static bool TryValidateId(string? id, out PublishResult error)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength)
        {
            error = PublishResult.Rejected(ErrorCodes.InvalidId, IdRule);
            return false;
        }

        error = default;
        return true;
    }

    /// <summary>Validates an HTTP body as entity data: one UTF-8 JSON object.</summary>
    public static bool TryValidateData(ReadOnlySpan<byte> body, out PublishResult error)
    {
        if (!Utf8.IsValid(body))
        {
            error = PublishResult.Rejected(ErrorCodes.InvalidJson, "The body is not valid UTF-8.");
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(body, ReaderOptions);
            if (!reader.Read())
            {
                error = PublishResult.Rejected(ErrorCodes.InvalidJson, "The body is empty.");
                return false;
            }

            var isObject = reader.TokenType == JsonTokenType.StartObject;
            reader.Skip();
            if (reader.Read())
            {
                error = PublishResult.Rejected(ErrorCodes.InvalidJson, "The body must be exactly one JSON value.");
                return false;
            }

            if (!isObject)
            {
                error = PublishResult.Rejected(ErrorCodes.InvalidData, "The body must be a JSON object.");
                return false;
            }
        }
        catch (JsonException)
        {
            error = PublishResult.Rejected(ErrorCodes.InvalidJson, "The body is not valid JSON.");
            return false;
        }

        error = default;
        return true;
    }

    private const string IdRule = "'id' must be a non-empty string of at most 256 characters.";

    private static string Clip(string value) => value.Length > 64 ? value[..64] + "…" : value;
}
