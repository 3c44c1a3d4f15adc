namespace Bulwark.Protocol.Dtls;

/// <summary>A bounds-checked reader for handshake bodies: every read reports failure instead of throwing.</summary>
internal ref struct DtlsWireReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _offset;

    public readonly int Offset => _offset;

    public readonly int Remaining => _data.Length - _offset;

    public bool TryReadByte(out byte value)
    {
        value = 0;
        if (Remaining < 1)
        {
            return false;
        }

        value = _data[_offset++];
        return true;
    }

    public bool TryReadUInt16(out int value)
    {
        value = 0;
        if (Remaining < 2)
        {
            return false;
        }

        value = (_data[_offset] << 8) | _data[_offset + 1];
        _offset += 2;
        return true;
    }

    public bool TryReadUInt24(out int value)
    {
        value = 0;
        if (Remaining < 3)
        {
            return false;
        }

        value = (_data[_offset] << 16) | (_data[_offset + 1] << 8) | _data[_offset + 2];
        _offset += 3;
        return true;
    }

    public bool TryReadBytes(int length, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (length < 0 || Remaining < length)
        {
            return false;
        }

        value = _data.Slice(_offset, length);
        _offset += length;
        return true;
    }

    public bool TryReadVector8(out ReadOnlySpan<byte> value)
    {
        value = default;
        return TryReadByte(out byte length) && TryReadBytes(length, out value);
    }

    public bool TryReadVector16(out ReadOnlySpan<byte> value)
    {
        value = default;
        return TryReadUInt16(out int length) && TryReadBytes(length, out value);
    }
}

/// <summary>Appends big-endian fields and length-prefixed vectors.</summary>
internal sealed class DtlsWireWriter
{
    private readonly List<byte> _bytes = new(128);

    public int Length => _bytes.Count;

    public DtlsWireWriter Byte(int value)
    {
        _bytes.Add((byte)value);
        return this;
    }

    public DtlsWireWriter UInt16(int value) => Byte(value >> 8).Byte(value);

    public DtlsWireWriter UInt24(int value) => Byte(value >> 16).Byte(value >> 8).Byte(value);

    public DtlsWireWriter Bytes(ReadOnlySpan<byte> value)
    {
        _bytes.AddRange(value);
        return this;
    }

    public DtlsWireWriter Vector8(ReadOnlySpan<byte> value) => Byte(value.Length).Bytes(value);

    public DtlsWireWriter Vector16(ReadOnlySpan<byte> value) => UInt16(value.Length).Bytes(value);

    public DtlsWireWriter Vector24(ReadOnlySpan<byte> value) => UInt24(value.Length).Bytes(value);

    public byte[] ToArray() => [.. _bytes];
}
