using System.Text.Json;
using TopicBroker.Sites;

namespace TopicBroker.Protocol.Inbound;

/// <summary>
/// Reads what a restaurant sends on its replication link (protocol.md "Sites and upstream
/// replication"): its ordinary <c>update</c> and <c>snapshot</c> frames and its <c>position</c>
/// reports. A refusal ends the link, so the first thing wrong is the one reported.
/// </summary>
internal static class ReplicationFrameReader
{
    /// <summary>Reads one message; <paramref name="links"/> are the link's topics (those of its welcome frame).</summary>
    public static bool TryRead<TLink>(byte[] message, IReadOnlyDictionary<string, TLink> links, out ReplicationFrame frame, out InboundError error)
    {
        frame = default;
        try
        {
            using var document = JsonDocument.Parse(message);
            var root = document.RootElement;
            var type = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (type == ReplicationMessages.Position)
            {
                frame = new ReplicationFrame(ReplicationFrameType.Position, "", 0, Positions: ReadPositions(root, links));
                error = default;
                return true;
            }

            if (type is not (FrameTypes.Update or FrameTypes.Snapshot))
            {
                error = new InboundError(ErrorCodes.UnknownType, "A replication link sends update, snapshot and position frames.");
                return false;
            }

            if (!root.TryGetProperty("topic", out var topicElement) || topicElement.ValueKind != JsonValueKind.String
                || topicElement.GetString() is not { } topic || !links.ContainsKey(topic))
            {
                error = new InboundError(ErrorCodes.UnknownTopic, "The frame's topic is not one of this link's (see the welcome frame).");
                return false;
            }

            if (!root.TryGetProperty("seq", out var seqElement) || seqElement.ValueKind != JsonValueKind.Number || !seqElement.TryGetInt64(out var seq) || seq < 0)
            {
                error = new InboundError(ErrorCodes.InvalidJson, "'seq' must be a non-negative integer.");
                return false;
            }

            return type == FrameTypes.Update
                ? TryReadUpdate(root, topic, seq, out frame, out error)
                : TryReadSnapshot(root, topic, seq, out frame, out error);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string with a lone surrogate escape.
            error = new InboundError(ErrorCodes.InvalidJson, "The message is not valid JSON.");
            return false;
        }
    }

    private static bool TryReadUpdate(JsonElement root, string topic, long seq, out ReplicationFrame frame, out InboundError error)
    {
        frame = default;
        var id = root.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : null;
        if (seq == 0 || !EntityRules.IsValidId(id))
        {
            error = new InboundError(ErrorCodes.InvalidId, "An update needs a seq above 0 and a valid 'id'.");
            return false;
        }

        var op = root.TryGetProperty("op", out var opElement) && opElement.ValueKind == JsonValueKind.String ? opElement.GetString() : ChangeOps.Upsert;
        byte[]? data = null;
        if (op == ChangeOps.Upsert)
        {
            if (!root.TryGetProperty("data", out var dataElement) || dataElement.ValueKind != JsonValueKind.Object)
            {
                error = new InboundError(ErrorCodes.InvalidData, EntityRules.UpsertNeedsData);
                return false;
            }

            data = JsonSerializer.SerializeToUtf8Bytes(dataElement);
        }
        else if (op != ChangeOps.Delete)
        {
            error = new InboundError(ErrorCodes.InvalidOp, EntityRules.OpRule);
            return false;
        }

        frame = new ReplicationFrame(ReplicationFrameType.Update, topic, seq, id, data);
        error = default;
        return true;
    }

    private static bool TryReadSnapshot(JsonElement root, string topic, long seq, out ReplicationFrame frame, out InboundError error)
    {
        frame = default;
        if (!root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
        {
            error = new InboundError(ErrorCodes.InvalidData, "A snapshot needs 'data', an object mapping ids to objects.");
            return false;
        }

        var entities = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var entity in data.EnumerateObject())
        {
            if (entity.Value.ValueKind != JsonValueKind.Object || !EntityRules.IsValidId(entity.Name))
            {
                error = new InboundError(ErrorCodes.InvalidData, "Every entity of a snapshot needs a valid id and an object.");
                return false;
            }

            entities[entity.Name] = JsonSerializer.SerializeToUtf8Bytes(entity.Value);
        }

        frame = new ReplicationFrame(ReplicationFrameType.Snapshot, topic, seq, Entities: entities);
        error = default;
        return true;
    }

    /// <summary>The reported seqs of the link's topics; anything else in the report is ignored.</summary>
    private static List<(string Topic, long Seq)> ReadPositions<TLink>(JsonElement root, IReadOnlyDictionary<string, TLink> links)
    {
        var positions = new List<(string Topic, long Seq)>();
        if (!root.TryGetProperty("topics", out var topics) || topics.ValueKind != JsonValueKind.Object)
        {
            return positions;
        }

        foreach (var topic in topics.EnumerateObject())
        {
            if (links.ContainsKey(topic.Name) && topic.Value.ValueKind == JsonValueKind.Object
                && topic.Value.TryGetProperty("seq", out var seq) && seq.ValueKind == JsonValueKind.Number && seq.TryGetInt64(out var value))
            {
                positions.Add((topic.Name, value));
            }
        }

        return positions;
    }
}
