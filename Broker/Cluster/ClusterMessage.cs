using System.Text;
using TopicBroker.Storage;

namespace TopicBroker.Cluster;

/// <summary>
/// What nodes send each other on Redis: a node's committed batch, its heartbeat, or its notice
/// that it resynchronised a topic (replaced its state, possibly at a lower seq). A small binary
/// envelope: kind, node id, then the changes (topic, seq, id, data or none for a delete), or for
/// a resync notice the topic and its new seq.
/// </summary>
internal static class ClusterMessage
{
    public const byte Changes = 1;
    public const byte Heartbeat = 2;
    public const byte Resync = 3;

    public static byte[] EncodeChanges(string nodeId, IReadOnlyList<StoredChange> changes)
    {
        using var stream = new MemoryStream(64 + changes.Count * 96);
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Changes);
            writer.Write(nodeId);
            writer.Write(changes.Count);
            foreach (var change in changes)
            {
                writer.Write(change.Topic);
                writer.Write(change.Seq);
                writer.Write(change.Id);
                writer.Write(change.Data?.Length ?? -1);
                if (change.Data is not null)
                {
                    writer.Write(change.Data);
                }
            }
        }

        return stream.ToArray();
    }

    public static byte[] EncodeHeartbeat(string nodeId)
    {
        using var stream = new MemoryStream(32);
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Heartbeat);
            writer.Write(nodeId);
        }

        return stream.ToArray();
    }

    public static byte[] EncodeResync(string nodeId, string topic, long seq)
    {
        using var stream = new MemoryStream(64);
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Resync);
            writer.Write(nodeId);
            writer.Write(topic);
            writer.Write(seq);
        }

        return stream.ToArray();
    }

    /// <summary>
    /// Reads a message; false for one this version cannot read. A resync notice comes back as one
    /// change naming the topic and its new seq, with no id and no data.
    /// </summary>
    public static bool TryDecode(byte[] message, out byte kind, out string nodeId, out List<StoredChange> changes)
    {
        changes = [];
        kind = 0;
        nodeId = "";
        try
        {
            using var reader = new BinaryReader(new MemoryStream(message), Encoding.UTF8);
            kind = reader.ReadByte();
            nodeId = reader.ReadString();
            if (kind == Heartbeat)
            {
                return true;
            }

            if (kind == Resync)
            {
                changes.Add(new StoredChange(reader.ReadString(), reader.ReadInt64(), "", null));
                return true;
            }

            if (kind != Changes)
            {
                return false;
            }

            var count = reader.ReadInt32();
            for (var i = 0; i < count; i++)
            {
                var topic = reader.ReadString();
                var seq = reader.ReadInt64();
                var id = reader.ReadString();
                var length = reader.ReadInt32();
                var data = length < 0 ? null : reader.ReadBytes(length);
                changes.Add(new StoredChange(topic, seq, id, data));
            }

            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }
}
