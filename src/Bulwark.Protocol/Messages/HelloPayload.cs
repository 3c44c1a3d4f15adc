using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Bulwark.Protocol.Messages;

/// <summary>Capability bits in the device Hello (device-os <c>enum HelloFlag</c>).</summary>
[Flags]
public enum HelloFlags : ushort
{
    None = 0,
    OtaUpgradeSuccessful = 0x01,
    DiagnosticsSupport = 0x02,
    ImmediateUpdatesSupport = 0x04,
    HandshakeComplete = 0x08,
    GoodbyeSupport = 0x10,
    DeviceInitiatedDescribe = 0x20,
    CompressedOta = 0x40,
    OtaProtocolV3 = 0x80,
}

/// <summary>Why a Hello payload could not be read.</summary>
public enum HelloParseError
{
    None = 0,
    /// <summary>Shorter than the 10 fixed leading bytes.</summary>
    TooShort,
    /// <summary>device_id_len is neither 0 (TCP) nor 12 (UDP).</summary>
    InvalidDeviceIdLength,
    /// <summary>The payload ends inside the device ID.</summary>
    TruncatedDeviceId,
}

/// <summary>The device Hello payload (device-protocol.md 1.4), all fields big-endian.</summary>
/// <remarks>
/// The trailing fields (system version onwards) are null when a device sends a shorter Hello; Device OS 6.x
/// always sends them all. Brewskey's server reads only the first 8 bytes, so older firmware may stop early.
/// </remarks>
public sealed record HelloPayload(
    ushort ProductId,
    ushort ProductFirmwareVersion,
    HelloFlags Flags,
    ushort PlatformId,
    DeviceId? DeviceId,
    ushort? SystemVersion,
    ushort? MaxMessageSize,
    uint? MaxBinarySize,
    ushort? OtaChunkSize)
{
    private const int FixedPrefixLength = 10;

    /// <summary>Parses a Hello payload; never throws on bad input.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out HelloPayload? hello, out HelloParseError error)
    {
        hello = null;
        if (payload.Length < FixedPrefixLength)
        {
            error = HelloParseError.TooShort;
            return false;
        }

        int deviceIdLength = payload[9];
        if (deviceIdLength != 0 && deviceIdLength != Bulwark.Protocol.DeviceId.Length)
        {
            error = HelloParseError.InvalidDeviceIdLength;
            return false;
        }

        if (payload.Length < FixedPrefixLength + deviceIdLength)
        {
            error = HelloParseError.TruncatedDeviceId;
            return false;
        }

        DeviceId? deviceId = deviceIdLength == 0 ? null : Bulwark.Protocol.DeviceId.FromBytes(payload.Slice(FixedPrefixLength, deviceIdLength));
        ReadOnlySpan<byte> tail = payload[(FixedPrefixLength + deviceIdLength)..];
        hello = new HelloPayload(
            BinaryPrimitives.ReadUInt16BigEndian(payload),
            BinaryPrimitives.ReadUInt16BigEndian(payload[2..]),
            (HelloFlags)BinaryPrimitives.ReadUInt16BigEndian(payload[4..]),
            BinaryPrimitives.ReadUInt16BigEndian(payload[6..]),
            deviceId,
            tail.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(tail) : null,
            tail.Length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(tail[2..]) : null,
            tail.Length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(tail[4..]) : null,
            tail.Length >= 10 ? BinaryPrimitives.ReadUInt16BigEndian(tail[8..]) : null);
        error = HelloParseError.None;
        return true;
    }

    /// <summary>Writes the payload as Device OS 6.x does; trailing fields stop at the first null.</summary>
    public byte[] ToArray()
    {
        int deviceIdLength = DeviceId is null ? 0 : Bulwark.Protocol.DeviceId.Length;
        var buffer = new byte[FixedPrefixLength + deviceIdLength + 10];
        BinaryPrimitives.WriteUInt16BigEndian(buffer, ProductId);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), ProductFirmwareVersion);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(4), (ushort)Flags);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(6), PlatformId);
        buffer[9] = (byte)deviceIdLength;
        DeviceId?.WriteTo(buffer.AsSpan(FixedPrefixLength));
        Span<byte> tail = buffer.AsSpan(FixedPrefixLength + deviceIdLength);
        int length = FixedPrefixLength + deviceIdLength;
        if (SystemVersion is { } systemVersion)
        {
            BinaryPrimitives.WriteUInt16BigEndian(tail, systemVersion);
            length += 2;
            if (MaxMessageSize is { } maxMessageSize)
            {
                BinaryPrimitives.WriteUInt16BigEndian(tail[2..], maxMessageSize);
                length += 2;
                if (MaxBinarySize is { } maxBinarySize)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(tail[4..], maxBinarySize);
                    length += 4;
                    if (OtaChunkSize is { } otaChunkSize)
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(tail[8..], otaChunkSize);
                        length += 2;
                    }
                }
            }
        }

        return buffer.AsSpan(0, length).ToArray();
    }
}
