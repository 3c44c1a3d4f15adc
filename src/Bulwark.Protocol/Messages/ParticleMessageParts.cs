using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Bulwark.Protocol.Coap;

namespace Bulwark.Protocol.Messages;

/// <summary>Which Describe the Uri-Query byte selects; the device accepts exactly one per request.</summary>
public enum DescribeFlags : byte
{
    System = 1,
    Application = 2,
    Metrics = 4,
}

/// <summary>The 12-byte UpdateBegin payload (OTA v1, device-protocol.md 1.6).</summary>
public sealed record UpdateBeginParameters(byte Flags, ushort ChunkSize, uint FileSize, byte Store, uint Address)
{
    public const int Length = 12;

    /// <summary>Flags bit 0: fast OTA (chunks carry an index and get no per-chunk reply).</summary>
    public bool FastOta => (Flags & 0x01) != 0;

    public byte[] ToArray()
    {
        var buffer = new byte[Length];
        buffer[0] = Flags;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(1), ChunkSize);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(3), FileSize);
        buffer[7] = Store;
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(8), Address);
        return buffer;
    }

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out UpdateBeginParameters? parameters)
    {
        parameters = null;
        if (payload.Length < Length)
        {
            return false;
        }

        parameters = new UpdateBeginParameters(
            payload[0],
            BinaryPrimitives.ReadUInt16BigEndian(payload[1..]),
            BinaryPrimitives.ReadUInt32BigEndian(payload[3..]),
            payload[7],
            BinaryPrimitives.ReadUInt32BigEndian(payload[8..]));
        return true;
    }
}

/// <summary>An OTA v1 chunk: CRC, optional fast-OTA index, data.</summary>
public sealed record ChunkMessage(uint Crc, ushort? ChunkIndex, ReadOnlyMemory<byte> Data)
{
    /// <summary>True when the CRC matches the data.</summary>
    public bool IsCrcValid => Crc32.Compute(Data.Span) == Crc;

    /// <summary>Reads a Chunk the way the device does: by option position after the Uri-Path, not by number.</summary>
    public static bool TryParse(CoapMessage message, [NotNullWhen(true)] out ChunkMessage? chunk)
    {
        ArgumentNullException.ThrowIfNull(message);
        chunk = null;
        IReadOnlyList<CoapOption> options = message.Options;
        int first = 0;
        while (first < options.Count && options[first].Number == CoapOptionNumber.UriPath)
        {
            first++;
        }

        if (first >= options.Count || options[first].Value.Length != 4)
        {
            return false;
        }

        uint crc = BinaryPrimitives.ReadUInt32BigEndian(options[first].Value.Span);
        ushort? index = null;
        if (first + 1 < options.Count)
        {
            if (options[first + 1].Value.Length != 2)
            {
                return false;
            }

            index = BinaryPrimitives.ReadUInt16BigEndian(options[first + 1].Value.Span);
        }

        chunk = new ChunkMessage(crc, index, message.Payload);
        return true;
    }
}

/// <summary>A published event (POST /E/name or /e/name) in either direction.</summary>
public sealed record EventMessage(string Name, ReadOnlyMemory<byte> Data, bool IsLegacyPublic, int TtlSeconds, ushort? ContentFormat)
{
    /// <summary>Device OS omits Max-Age when the TTL is this default.</summary>
    public const int DefaultTtlSeconds = 60;

    /// <summary>Device OS refuses to publish more than this.</summary>
    public const int MaxDataLength = 1024;

    /// <summary>The data decoded as UTF-8 (events are text unless Content-Format says otherwise).</summary>
    public string GetDataString() => Encoding.UTF8.GetString(Data.Span);

    public static bool TryParse(CoapMessage message, [NotNullWhen(true)] out EventMessage? evt)
    {
        ArgumentNullException.ThrowIfNull(message);
        evt = null;
        if (!ParticlePath.TryGetNameAfterSelector(message, out char selector, out string? name) || selector is not ('e' or 'E'))
        {
            return false;
        }

        int ttl = DefaultTtlSeconds;
        if (message.TryGetOption(CoapOptionNumber.MaxAge, out CoapOption maxAge))
        {
            if (!maxAge.TryGetUInt(out uint value) || value > int.MaxValue)
            {
                return false;
            }

            ttl = (int)value;
        }

        ushort? contentFormat = null;
        if (message.TryGetOption(CoapOptionNumber.ContentFormat, out CoapOption format))
        {
            if (!format.TryGetUInt(out uint value) || value > ushort.MaxValue)
            {
                return false;
            }

            contentFormat = (ushort)value;
        }

        evt = new EventMessage(name, message.Payload, selector == 'e', ttl, contentFormat);
        return true;
    }
}

/// <summary>A subscription (GET /e/prefix), with any Uri-Query flags ("c" CBOR, "b" binary).</summary>
public sealed record SubscribeRequest(string Prefix, IReadOnlyList<string> Queries)
{
    public static bool TryParse(CoapMessage message, [NotNullWhen(true)] out SubscribeRequest? request)
    {
        ArgumentNullException.ThrowIfNull(message);
        request = null;
        if (!ParticlePath.TryGetNameAfterSelector(message, out char selector, out string? prefix) || selector is not ('e' or 'E'))
        {
            return false;
        }

        request = new SubscribeRequest(prefix, message.GetUriQueries());
        return true;
    }
}

/// <summary>A function call (CON POST /f/name?argument).</summary>
public sealed record FunctionCallRequest(string Name, string Argument)
{
    /// <summary>The device answers 4.00 to longer arguments.</summary>
    public const int MaxArgumentLength = 1024;

    public static bool TryParse(CoapMessage message, [NotNullWhen(true)] out FunctionCallRequest? request)
    {
        ArgumentNullException.ThrowIfNull(message);
        request = null;
        if (!ParticlePath.TryGetNameAfterSelector(message, out char selector, out string? name) || selector != 'f' || name.Length == 0)
        {
            return false;
        }

        string argument = message.TryGetOption(CoapOptionNumber.UriQuery, out CoapOption query) ? query.GetString() : string.Empty;
        request = new FunctionCallRequest(name, argument);
        return true;
    }
}

/// <summary>A variable read (CON GET /v/name).</summary>
public sealed record VariableRequest(string Name)
{
    public static bool TryParse(CoapMessage message, [NotNullWhen(true)] out VariableRequest? request)
    {
        ArgumentNullException.ThrowIfNull(message);
        request = null;
        if (!ParticlePath.TryGetNameAfterSelector(message, out char selector, out string? name) || selector != 'v' || name.Length == 0)
        {
            return false;
        }

        request = new VariableRequest(name);
        return true;
    }
}

/// <summary>The device's Goodbye payload: a varint flag set, then one varint per flagged field (device-os Messages::goodbye).</summary>
public sealed record GoodbyeMessage(uint? CloudDisconnectReason, uint? SystemResetReason, uint? SleepDurationSeconds, uint? NetworkDisconnectReason)
{
    private const uint CloudReasonFlag = 0x01;
    private const uint ResetReasonFlag = 0x02;
    private const uint SleepDurationFlag = 0x04;
    private const uint NetworkReasonFlag = 0x08;

    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out GoodbyeMessage? goodbye)
    {
        goodbye = null;
        int position = 0;
        if (!TryReadVarint(payload, ref position, out uint flags))
        {
            return false;
        }

        uint? cloud = null, reset = null, sleep = null, network = null;
        if ((flags & CloudReasonFlag) != 0 && !TryReadInto(payload, ref position, out cloud))
        {
            return false;
        }

        if ((flags & ResetReasonFlag) != 0 && !TryReadInto(payload, ref position, out reset))
        {
            return false;
        }

        if ((flags & SleepDurationFlag) != 0 && !TryReadInto(payload, ref position, out sleep))
        {
            return false;
        }

        if ((flags & NetworkReasonFlag) != 0 && !TryReadInto(payload, ref position, out network))
        {
            return false;
        }

        goodbye = new GoodbyeMessage(cloud, reset, sleep, network);
        return true;
    }

    public byte[] ToArray()
    {
        var buffer = new List<byte>(16);
        uint flags = (CloudDisconnectReason is null ? 0 : CloudReasonFlag)
            | (SystemResetReason is null ? 0 : ResetReasonFlag)
            | (SleepDurationSeconds is null ? 0 : SleepDurationFlag)
            | (NetworkDisconnectReason is null ? 0 : NetworkReasonFlag);
        WriteVarint(buffer, flags);
        foreach (uint? value in new[] { CloudDisconnectReason, SystemResetReason, SleepDurationSeconds, NetworkDisconnectReason })
        {
            if (value is { } present)
            {
                WriteVarint(buffer, present);
            }
        }

        return buffer.ToArray();
    }

    private static bool TryReadInto(ReadOnlySpan<byte> payload, ref int position, out uint? value)
    {
        bool ok = TryReadVarint(payload, ref position, out uint read);
        value = read;
        return ok;
    }

    // LEB128-style unsigned varint, at most 5 bytes for 32 bits.
    private static bool TryReadVarint(ReadOnlySpan<byte> payload, ref int position, out uint value)
    {
        value = 0;
        for (int shift = 0; shift < 35; shift += 7)
        {
            if (position >= payload.Length)
            {
                return false;
            }

            byte b = payload[position++];
            if (shift == 28 && b > 0x0F)
            {
                return false;
            }

            value |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    private static void WriteVarint(List<byte> buffer, uint value)
    {
        while (value >= 0x80)
        {
            buffer.Add((byte)(value | 0x80));
            value >>= 7;
        }

        buffer.Add((byte)value);
    }
}

// Particle names ride after the one-character selector; a device sends them as one Uri-Path value that may hold '/'.
internal static class ParticlePath
{
    public static bool TryGetNameAfterSelector(CoapMessage message, out char selector, [NotNullWhen(true)] out string? name)
    {
        selector = '\0';
        name = null;
        IReadOnlyList<string> segments = message.GetUriPathSegments();
        if (segments.Count == 0 || segments[0].Length != 1)
        {
            return false;
        }

        selector = segments[0][0];
        name = string.Join('/', segments.Skip(1));
        return true;
    }
}
