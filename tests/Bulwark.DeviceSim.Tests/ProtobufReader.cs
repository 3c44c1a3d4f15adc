using System.Buffers.Binary;

namespace Bulwark.DeviceSim.Tests;

/// <summary>One protobuf field: varint and fixed32 values in <see cref="Value"/>, length-delimited ones in <see cref="Bytes"/>.</summary>
internal sealed record ProtobufField(int Number, int WireType, ulong Value, byte[] Bytes);

/// <summary>A strict, schema-less protobuf reader, independent of the encoder under test.</summary>
internal static class ProtobufReader
{
    public static IReadOnlyList<ProtobufField> Read(ReadOnlySpan<byte> data)
    {
        var fields = new List<ProtobufField>();
        int position = 0;
        while (position < data.Length)
        {
            ulong tag = ReadVarint(data, ref position);
            int number = (int)(tag >> 3);
            int wireType = (int)(tag & 7);
            switch (wireType)
            {
                case 0:
                    fields.Add(new ProtobufField(number, wireType, ReadVarint(data, ref position), []));
                    break;
                case 2:
                    int length = checked((int)ReadVarint(data, ref position));
                    fields.Add(new ProtobufField(number, wireType, 0, data.Slice(position, length).ToArray()));
                    position += length;
                    break;
                case 5:
                    fields.Add(new ProtobufField(number, wireType, BinaryPrimitives.ReadUInt32LittleEndian(data[position..]), []));
                    position += 4;
                    break;
                default:
                    throw new FormatException($"Unexpected wire type {wireType} for field {number}.");
            }
        }

        return fields;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new FormatException("Varint too long.");
    }
}
