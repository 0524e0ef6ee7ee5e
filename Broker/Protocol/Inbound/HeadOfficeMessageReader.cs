using System.Text.Json;
using System.Text.Unicode;
using TopicBroker.Sites;

namespace TopicBroker.Protocol.Inbound;

/// <summary>
/// Reads what a head office sends on a restaurant's replication link (protocol.md "The upstream
/// link"): <c>welcome</c>, <c>ack</c> and <c>error</c>, each one JSON object. The mirror of
/// <see cref="ReplicationFrameReader"/>; anything else (not one object, an unknown or missing
/// <c>type</c>, a field missing or of the wrong type) is refused with the first thing wrong,
/// never thrown, so the forwarder can end that link as a protocol error and resume from the
/// next welcome.
/// </summary>
internal static class HeadOfficeMessageReader
{
    private const string SeqRule = "must be a non-negative integer";

    public static bool TryRead(ReadOnlySpan<byte> message, out HeadOfficeMessage result, out InboundError error)
    {
        result = default;
        if (!Utf8.IsValid(message))
        {
            error = new InboundError(ErrorCodes.InvalidJson, "The message is not valid UTF-8.");
            return false;
        }

        string? type = null, topic = null;
        long? seq = null;
        Dictionary<string, long>? topics = null;
        string? code = null, text = null;
        var hasType = false;
        var hasData = false;
        error = default;
        try
        {
            var reader = new Utf8JsonReader(message, EntityRules.ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = new InboundError(ErrorCodes.InvalidJson, "A message must be one JSON object.");
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    hasType = true;
                    type = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("topic"u8))
                {
                    reader.Read();
                    if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                    {
                        error = new InboundError(ErrorCodes.UnknownTopic, "'topic' must be a string.");
                        return false;
                    }

                    topic = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("seq"u8))
                {
                    reader.Read();
                    if (!TryReadSeq(ref reader, out var value))
                    {
                        error = new InboundError(ErrorCodes.InvalidJson, $"'seq' {SeqRule}.");
                        return false;
                    }

                    seq = value;
                }
                else if (reader.ValueTextEquals("topics"u8))
                {
                    reader.Read();
                    if (!TryReadTopics(ref reader, out topics, out error))
                    {
                        return false;
                    }

                    continue;
                }
                else if (reader.ValueTextEquals("data"u8))
                {
                    reader.Read();
                    hasData = reader.TokenType == JsonTokenType.StartObject;
                    if (hasData)
                    {
                        ReadErrorData(ref reader, out code, out text);
                        continue;
                    }
                }
                else
                {
                    reader.Read();
                }

                reader.Skip();
            }

            // Anything after the object (a second value, stray text) makes the message invalid.
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                error = new InboundError(ErrorCodes.InvalidJson, "A message must be exactly one JSON object.");
                return false;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string with a lone surrogate escape, bad input like any other.
            error = new InboundError(ErrorCodes.InvalidJson, "The message is not valid JSON.");
            return false;
        }

        switch (type)
        {
            case ReplicationMessages.Welcome when topics is not null:
                result = new HeadOfficeMessage(HeadOfficeMessageType.Welcome, Topics: topics);
                return true;
            case ReplicationMessages.Welcome:
                error = new InboundError(ErrorCodes.InvalidData, "A welcome needs 'topics', an object mapping topics to {\"seq\":n}.");
                return false;
            case ReplicationMessages.Ack when topic is null:
                error = new InboundError(ErrorCodes.UnknownTopic, "An ack needs 'topic'.");
                return false;
            case ReplicationMessages.Ack when seq is null:
                error = new InboundError(ErrorCodes.InvalidJson, $"An ack needs 'seq', which {SeqRule}.");
                return false;
            case ReplicationMessages.Ack:
                result = new HeadOfficeMessage(HeadOfficeMessageType.Ack, topic, seq.Value);
                return true;
            case ReplicationMessages.Error when hasData && code is not null:
                result = new HeadOfficeMessage(HeadOfficeMessageType.Error, topic, ErrorCode: code, ErrorMessage: text ?? "");
                return true;
            case ReplicationMessages.Error:
                error = new InboundError(ErrorCodes.InvalidData, "An error needs 'data', an object with a string 'code'.");
                return false;
            case null:
                error = new InboundError(hasType ? ErrorCodes.UnknownType : ErrorCodes.MissingType, "'type' must be a string: welcome, ack or error.");
                return false;
            default:
                error = new InboundError(ErrorCodes.UnknownType, "A head office sends welcome, ack and error messages.");
                return false;
        }
    }

    private static bool TryReadSeq(ref Utf8JsonReader reader, out long seq)
    {
        seq = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out seq) && seq >= 0;
    }

    /// <summary>A welcome's <c>topics</c>: every value an object with an integer <c>seq</c> (other members ignored). Leaves the reader on the closing brace.</summary>
    private static bool TryReadTopics(ref Utf8JsonReader reader, out Dictionary<string, long>? topics, out InboundError error)
    {
        topics = null;
        error = new InboundError(ErrorCodes.InvalidData, $"'topics' must map each topic to an object whose 'seq' {SeqRule}.");
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        var read = new Dictionary<string, long>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            long? seq = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isSeq = reader.ValueTextEquals("seq"u8);
                reader.Read();
                if (isSeq)
                {
                    if (!TryReadSeq(ref reader, out var value))
                    {
                        return false;
                    }

                    seq = value;
                }
                else
                {
                    reader.Skip();
                }
            }

            if (seq is null)
            {
                return false;
            }

            read[name] = seq.Value;
        }

        topics = read;
        error = default;
        return true;
    }

    /// <summary>An error's <c>data</c>: its string <c>code</c> and <c>message</c>, null when missing or not strings. Leaves the reader on the closing brace.</summary>
    private static void ReadErrorData(ref Utf8JsonReader reader, out string? code, out string? text)
    {
        code = text = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = reader.ValueTextEquals("code"u8) ? 1 : reader.ValueTextEquals("message"u8) ? 2 : 0;
            reader.Read();
            var value = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            if (field == 1)
            {
                code = value;
            }
            else if (field == 2)
            {
                text = value;
            }

            reader.Skip();
        }
    }
}
