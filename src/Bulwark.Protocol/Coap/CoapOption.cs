using System.Buffers.Binary;
using System.Text;

namespace Bulwark.Protocol.Coap;

/// <summary>One CoAP option: its number and raw value bytes.</summary>
public readonly record struct CoapOption(CoapOptionNumber Number, ReadOnlyMemory<byte> Value)
{
    /// <summary>An option whose value is the UTF-8 bytes of <paramref name="value"/>.</summary>
    public static CoapOption FromString(CoapOptionNumber number, string value) => new(number, Encoding.UTF8.GetBytes(value));

    /// <summary>An option holding an unsigned integer in the shortest big-endian form (zero is empty), as RFC 7252 3.2 asks.</summary>
    public static CoapOption FromUInt(CoapOptionNumber number, uint value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(buffer, value);
        int skip = 0;
        while (skip < 4 && buffer[skip] == 0)
        {
            skip++;
        }

        return new CoapOption(number, buffer[skip..].ToArray());
    }

    /// <summary>An option holding an unsigned integer in exactly <paramref name="length"/> big-endian bytes.</summary>
    /// <remarks>Particle reads some options by fixed width (the OTA chunk CRC is always 4 bytes), so shortening is wrong there.</remarks>
    public static CoapOption FromFixedUInt(CoapOptionNumber number, uint value, int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, 4);
        var bytes = new byte[length];
        for (int i = length - 1; i >= 0; i--)
        {
            bytes[i] = (byte)value;
            value >>= 8;
        }

        return new CoapOption(number, bytes);
    }

    /// <summary>The value decoded as UTF-8.</summary>
    public string GetString() => Encoding.UTF8.GetString(Value.Span);

    /// <summary>The value as a big-endian unsigned integer; false when longer than 4 bytes.</summary>
    public bool TryGetUInt(out uint value)
    {
        value = 0;
        ReadOnlySpan<byte> span = Value.Span;
        if (span.Length > 4)
        {
            return false;
        }

        foreach (byte b in span)
        {
            value = (value << 8) | b;
        }

        return true;
    }

    public override string ToString() => $"{Number}({Convert.ToHexString(Value.Span)})";
}
