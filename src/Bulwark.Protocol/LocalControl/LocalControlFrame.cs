using System.Buffers.Binary;

namespace Bulwark.Protocol.LocalControl;

/// <summary>The framing of a virtual device's local control channel, the TCP stand-in for USB control transfers that
/// bulwark-sim listens on and the CLI talks to. Big-endian: request = <c>u16 type, u32 length, payload</c>; reply =
/// <c>i32 result, u32 length, payload</c>, where <c>result</c> is the Device OS system error code (0 = ok). A payload over
/// <see cref="MaxPayload"/> is refused with <see cref="InvalidDataException"/>.</summary>
public static class LocalControlFrame
{
    /// <summary>Device OS control requests are small; this bounds what one frame may make either side buffer.</summary>
    public const int MaxPayload = 64 * 1024;

    private const int RequestHeaderLength = 6;
    private const int ReplyHeaderLength = 8;

    public static async Task WriteRequestAsync(Stream stream, int type, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(type);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(type, ushort.MaxValue);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payload.Length, MaxPayload);
        var header = new byte[RequestHeaderLength];
        BinaryPrimitives.WriteUInt16BigEndian(header, (ushort)type);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(2), (uint)payload.Length);
        await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one request; null on a clean end of stream before it.</summary>
    public static async Task<(int Type, byte[] Payload)?> ReadRequestAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new byte[RequestHeaderLength];
        if (!await ReadHeaderAsync(stream, header, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        var payload = await ReadPayloadAsync(stream, BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2)), cancellationToken).ConfigureAwait(false);
        return (BinaryPrimitives.ReadUInt16BigEndian(header), payload);
    }

    public static async Task WriteReplyAsync(Stream stream, int result, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payload.Length, MaxPayload);
        var header = new byte[ReplyHeaderLength];
        BinaryPrimitives.WriteInt32BigEndian(header, result);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)payload.Length);
        await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one reply: the device's result code and payload.</summary>
    public static async Task<(int Result, byte[] Payload)> ReadReplyAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new byte[ReplyHeaderLength];
        await stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        var payload = await ReadPayloadAsync(stream, BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)), cancellationToken).ConfigureAwait(false);
        return (BinaryPrimitives.ReadInt32BigEndian(header), payload);
    }

    private static async Task<byte[]> ReadPayloadAsync(Stream stream, uint length, CancellationToken cancellationToken)
    {
        if (length > MaxPayload)
        {
            throw new InvalidDataException($"a local control frame of {length} bytes is over the {MaxPayload}-byte limit");
        }
        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false);
        return payload;
    }

    /// <summary>Fills the header; false on a clean end of stream before its first byte, <see cref="EndOfStreamException"/> inside it.</summary>
    private static async Task<bool> ReadHeaderAsync(Stream stream, byte[] header, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < header.Length)
        {
            var n = await stream.ReadAsync(header.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return read == 0 ? false : throw new EndOfStreamException();
            }
            read += n;
        }
        return true;
    }
}
