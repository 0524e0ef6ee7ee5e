using System.Text.Json;
using System.Text.Unicode;
using TopicBroker.Topics;

namespace TopicBroker.Protocol.Inbound;

/// <summary>
/// Reads publish input, shared by the TCP bridge (whole lines) and HTTP (route plus body), so
/// both answer the same error codes (protocol.md "TCP bridge", "HTTP API").
/// </summary>
internal sealed class ChangeReader(TopicRegistry topics)
{
    /// <summary>Reads one bridge line: <c>{"topic","id","op"?,"data"?}</c>.</summary>
    public bool TryReadLine(ReadOnlySpan<byte> line, out InboundChange change, out InboundError error)
    {
        change = default;
        if (!Utf8.IsValid(line))
        {
            error = new InboundError(ErrorCodes.InvalidJson, "The line is not valid UTF-8.");
            return false;
        }

        string? topicName = null, id = null, op = null;
        bool idWrongType = false, topicWrongType = false, opWrongType = false;
        byte[]? data = null;
        var dataIsObject = false;
        var hasData = false;
        try
        {
            var reader = new Utf8JsonReader(line, EntityRules.ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = new InboundError(ErrorCodes.InvalidJson, "A line must be one JSON object.");
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
                    op = opWrongType ? null : ReadOp(ref reader);
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
                error = new InboundError(ErrorCodes.InvalidJson, "A line must be exactly one JSON object.");
                return false;
            }
        }
        catch (JsonException)
        {
            error = new InboundError(ErrorCodes.InvalidJson, "The line is not valid JSON.");
            return false;
        }
        catch (InvalidOperationException)
        {
            // GetString on a string with an invalid escape sequence.
            error = new InboundError(ErrorCodes.InvalidJson, "The line holds an invalid string.");
            return false;
        }

        if (topicWrongType)
        {
            error = new InboundError(ErrorCodes.UnknownTopic, "'topic' must be a string.");
            return false;
        }

        if (!TryGetTopic(topicName, out var topic, out error))
        {
            return false;
        }

        if (idWrongType || !EntityRules.TryValidateId(id, out error))
        {
            error = new InboundError(ErrorCodes.InvalidId, EntityRules.IdRule);
            return false;
        }

        if (opWrongType || op is not (null or ChangeOps.Upsert or ChangeOps.Delete))
        {
            error = new InboundError(ErrorCodes.InvalidOp, EntityRules.OpRule);
            return false;
        }

        if (op == ChangeOps.Delete)
        {
            change = new InboundChange(topic, id!, null);
            error = default;
            return true;
        }

        if (!dataIsObject)
        {
            error = new InboundError(ErrorCodes.InvalidData, hasData ? EntityRules.DataRule : EntityRules.UpsertNeedsData);
            return false;
        }

        change = new InboundChange(topic, id!, data);
        error = default;
        return true;
    }

    /// <summary>The topic a change names, if this broker takes changes for it from outside.</summary>
    public bool TryGetTopic(string? name, out TopicState topic, out InboundError error)
    {
        if (name is not null && topics.IsSiteTopicName(name, out var site, out _))
        {
            // Site topics hold the restaurant's own seqs; only its replication link writes them.
            topic = null!;
            error = new InboundError(ErrorCodes.ReplicatedTopic, $"'{Clip(name)}' is replicated from site '{site}'; only that site's replication link writes it.");
            return false;
        }

        if (name is not null && topics.TryGet(name, out topic!))
        {
            error = default;
            return true;
        }

        topic = null!;
        error = new InboundError(ErrorCodes.UnknownTopic, name is null ? "'topic' is missing." : $"Unknown topic '{Clip(name)}'.");
        return false;
    }

    /// <summary>Validates an HTTP body as entity data: one UTF-8 JSON object.</summary>
    public static bool TryReadBody(ReadOnlySpan<byte> body, out InboundError error)
    {
        var shape = EntityRules.CheckData(body);
        error = shape switch
        {
            DataShape.Object => default,
            DataShape.NotUtf8 => new InboundError(ErrorCodes.InvalidJson, "The body is not valid UTF-8."),
            DataShape.NotObject => new InboundError(ErrorCodes.InvalidData, "The body must be a JSON object."),
            _ => new InboundError(ErrorCodes.InvalidJson, "The body is not valid JSON."),
        };
        return shape == DataShape.Object;
    }

    /// <summary>The op as its constant (no allocation for the two valid ones); anything else as read.</summary>
    private static string? ReadOp(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("upsert"u8) ? ChangeOps.Upsert
        : reader.ValueTextEquals("delete"u8) ? ChangeOps.Delete
        : reader.GetString();

    private static string Clip(string value) => value.Length > 64 ? value[..64] + "…" : value;
}
