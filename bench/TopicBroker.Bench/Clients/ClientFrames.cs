using System.Buffers.Binary;

namespace TopicBroker.Bench.Clients;

/// <summary>
/// Encodes the few frames a subscriber sends (RFC 6455 section 5: client frames are masked).
/// The mask key is fixed: it exists against proxy cache poisoning, which loopback does not have.
/// </summary>
internal static class ClientFrames
{
    public const byte OpcodeContinuation = 0x0;
    public const byte OpcodeText = 0x1;
    public const byte OpcodeBinary = 0x2;
    public const byte OpcodeClose = 0x8;
    public const byte OpcodePing = 0x9;
    public const byte OpcodePong = 0xA;

    private static ReadOnlySpan<byte> MaskKey => [0x5A, 0x3C, 0x96, 0xE1];

    public static byte[] Encode(byte opcode, ReadOnlySpan<byte> payload)
    {
        var lengthBytes = payload.Length < 126 ? 0 : payload.Length <= ushort.MaxValue ? 2 : 8;
        var frame = new byte[2 + lengthBytes + 4 + payload.Length];
        frame[0] = (byte)(0x80 | opcode);
        if (lengthBytes == 0)
        {
            frame[1] = (byte)(0x80 | payload.Length);
        }
        else if (lengthBytes == 2)
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
        }
        else
        {
            frame[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
        }

        var maskAt = 2 + lengthBytes;
        MaskKey.CopyTo(frame.AsSpan(maskAt));
        var payloadAt = maskAt + 4;
        for (var i = 0; i < payload.Length; i++)
        {
            frame[payloadAt + i] = (byte)(payload[i] ^ MaskKey[i & 3]);
        }

        return frame;
    }

    public static byte[] Close(ushort statusCode)
    {
        Span<byte> code = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(code, statusCode);
        return Encode(OpcodeClose, code);
    }
}
