using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Bulwark.Protocol;

/// <summary>A Particle device ID: 12 raw bytes, shown as 24 lowercase hex characters.</summary>
/// <remarks>Held as two integers so it is a cheap, allocation-free dictionary key for 10,000 connections.</remarks>
public readonly record struct DeviceId
{
    /// <summary>Raw length in bytes.</summary>
    public const int Length = 12;

    private readonly ulong _high;
    private readonly uint _low;

    private DeviceId(ulong high, uint low)
    {
        _high = high;
        _low = low;
    }

    /// <summary>Reads 12 raw bytes.</summary>
    public static DeviceId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"A device ID is {Length} bytes.", nameof(bytes));
        }

        return new DeviceId(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt32BigEndian(bytes[8..]));
    }

    /// <summary>Parses 24 hex characters (either case).</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out DeviceId deviceId)
    {
        deviceId = default;
        if (text is null || text.Length != Length * 2)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[Length];
        if (Convert.FromHexString(text, bytes, out _, out int written) != System.Buffers.OperationStatus.Done || written != Length)
        {
            return false;
        }

        deviceId = FromBytes(bytes);
        return true;
    }

    /// <summary>Parses 24 hex characters or throws <see cref="FormatException"/>.</summary>
    public static DeviceId Parse(string text) =>
        TryParse(text, out DeviceId deviceId) ? deviceId : throw new FormatException("A device ID is 24 hex characters.");

    /// <summary>Writes the 12 raw bytes.</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], _low);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        WriteTo(bytes);
        return bytes;
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        WriteTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
