using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Bulwark.Protocol.Coap;

/// <summary>An immutable CoAP message (RFC 7252 framing, no reliability layer), as Particle devices send it.</summary>
/// <remarks>
/// Decoded messages reference the caller's buffer (no copies): options, token and payload are slices of it.
/// Options are kept in wire order, which is ascending by number; among equal numbers the given order is kept,
/// because Particle reads some repeated options by position (the OTA chunk CRC, then the chunk index).
/// </remarks>
public sealed class CoapMessage
{
    /// <summary>Upper bound on options per message, so a hostile frame cannot make the decoder allocate much.</summary>
    public const int MaxOptionCount = 64;

    /// <summary>RFC 7252 caps tokens at 8 bytes.</summary>
    public const int MaxTokenLength = 8;

    /// <summary>The longest option value the 14-nibble extended length can express.</summary>
    public const int MaxOptionValueLength = 65535 + 269;

    private const byte PayloadMarker = 0xFF;

    private readonly CoapOption[] _options;

    /// <summary>Creates a message; options are stably sorted by number so they can be delta-encoded.</summary>
    public CoapMessage(
        CoapMessageType type,
        CoapCode code,
        ushort messageId,
        ReadOnlyMemory<byte> token = default,
        IEnumerable<CoapOption>? options = null,
        ReadOnlyMemory<byte> payload = default)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(token.Length, MaxTokenLength, nameof(token));
        Type = type;
        Code = code;
        MessageId = messageId;
        Token = token;
        // OrderBy is stable, which keeps same-numbered options in the order the caller gave them.
        _options = options is null ? [] : options.OrderBy(o => (ushort)o.Number).ToArray();
        ArgumentOutOfRangeException.ThrowIfGreaterThan(_options.Length, MaxOptionCount, nameof(options));
        foreach (CoapOption option in _options)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(option.Value.Length, MaxOptionValueLength, nameof(options));
        }

        if (code.IsEmpty && (!token.IsEmpty || _options.Length != 0 || !payload.IsEmpty))
        {
            throw new ArgumentException("An Empty (0.00) message carries no token, options or payload.", nameof(code));
        }

        Payload = payload;
    }

    // Used by the decoder, which already has options in wire order.
    private CoapMessage(CoapMessageType type, CoapCode code, ushort messageId, ReadOnlyMemory<byte> token, CoapOption[] options, ReadOnlyMemory<byte> payload)
    {
        Type = type;
        Code = code;
        MessageId = messageId;
        Token = token;
        _options = options;
        Payload = payload;
    }

    public CoapMessageType Type { get; }

    public CoapCode Code { get; }

    public ushort MessageId { get; }

    public ReadOnlyMemory<byte> Token { get; }

    public IReadOnlyList<CoapOption> Options => _options;

    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>True for code 0.00 (ping, empty ACK, RST).</summary>
    public bool IsEmpty => Code.IsEmpty;

    /// <summary>Returns a copy with another message ID (the channel assigns IDs at send time).</summary>
    public CoapMessage WithMessageId(ushort messageId) => new(Type, Code, messageId, Token, _options, Payload);

    /// <summary>All values of an option, in wire order.</summary>
    public IEnumerable<CoapOption> GetOptions(CoapOptionNumber number) => _options.Where(o => o.Number == number);

    /// <summary>The first value of an option, if present.</summary>
    public bool TryGetOption(CoapOptionNumber number, out CoapOption option)
    {
        foreach (CoapOption candidate in _options)
        {
            if (candidate.Number == number)
            {
                option = candidate;
                return true;
            }
        }

        option = default;
        return false;
    }

    /// <summary>The Uri-Path segments decoded as UTF-8.</summary>
    public IReadOnlyList<string> GetUriPathSegments() => GetOptions(CoapOptionNumber.UriPath).Select(o => o.GetString()).ToArray();

    /// <summary>The Uri-Path joined with '/', with a leading '/' (e.g. "/E/particle/device/updates/enabled").</summary>
    public string GetUriPath() => "/" + string.Join('/', GetUriPathSegments());

    /// <summary>The first byte of the first Uri-Path value, which is how Particle selects the message; 0 if none.</summary>
    public byte GetUriPathSelector()
    {
        return TryGetOption(CoapOptionNumber.UriPath, out CoapOption path) && path.Value.Length > 0 ? path.Value.Span[0] : (byte)0;
    }

    /// <summary>The Uri-Query values decoded as UTF-8.</summary>
    public IReadOnlyList<string> GetUriQueries() => GetOptions(CoapOptionNumber.UriQuery).Select(o => o.GetString()).ToArray();

    /// <summary>The number of bytes <see cref="TryEncode"/> writes.</summary>
    public int GetEncodedLength()
    {
        int length = 4 + Token.Length;
        int previous = 0;
        foreach (CoapOption option in _options)
        {
            int delta = (ushort)option.Number - previous;
            previous = (ushort)option.Number;
            length += 1 + ExtendedFieldLength(delta) + ExtendedFieldLength(option.Value.Length) + option.Value.Length;
        }

        if (!Payload.IsEmpty)
        {
            length += 1 + Payload.Length;
        }

        return length;
    }

    /// <summary>Writes the wire form; false if <paramref name="destination"/> is too small.</summary>
    public bool TryEncode(Span<byte> destination, out int bytesWritten)
    {
        bytesWritten = 0;
        int length = GetEncodedLength();
        if (destination.Length < length)
        {
            return false;
        }

        destination[0] = (byte)(0x40 | ((int)Type << 4) | Token.Length);
        destination[1] = Code.Value;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], MessageId);
        int position = 4;
        Token.Span.CopyTo(destination[position..]);
        position += Token.Length;

        int previous = 0;
        foreach (CoapOption option in _options)
        {
            int delta = (ushort)option.Number - previous;
            previous = (ushort)option.Number;
            int valueLength = option.Value.Length;
            int header = position++;
            destination[header] = (byte)((Nibble(delta) << 4) | Nibble(valueLength));
            position += WriteExtendedField(destination[position..], delta);
            position += WriteExtendedField(destination[position..], valueLength);
            option.Value.Span.CopyTo(destination[position..]);
            position += valueLength;
        }

        if (!Payload.IsEmpty)
        {
            destination[position++] = PayloadMarker;
            Payload.Span.CopyTo(destination[position..]);
            position += Payload.Length;
        }

        bytesWritten = position;
        return true;
    }

    /// <summary>Encodes to a new array.</summary>
    public byte[] ToArray()
    {
        var buffer = new byte[GetEncodedLength()];
        TryEncode(buffer, out _);
        return buffer;
    }

    /// <summary>
    /// Decodes one message. Never throws on bad input; on failure returns false with the reason.
    /// The result references <paramref name="data"/>, so keep that buffer alive and unchanged.
    /// Allocates only the message and its option array (at most <see cref="MaxOptionCount"/> entries).
    /// </summary>
    public static bool TryDecode(ReadOnlyMemory<byte> data, [NotNullWhen(true)] out CoapMessage? message, out CoapDecodeError error)
    {
        message = null;
        ReadOnlySpan<byte> span = data.Span;
        error = Validate(span, out int tokenLength, out int optionCount, out int payloadOffset);
        if (error != CoapDecodeError.None)
        {
            return false;
        }

        var options = optionCount == 0 ? [] : new CoapOption[optionCount];
        int position = 4 + tokenLength;
        int number = 0;
        for (int i = 0; i < optionCount; i++)
        {
            // Validate has already proven every read below is in bounds.
            ReadOptionHeader(span, ref position, out int delta, out int length);
            number += delta;
            options[i] = new CoapOption((CoapOptionNumber)number, data.Slice(position, length));
            position += length;
        }

        ReadOnlyMemory<byte> payload = payloadOffset < 0 ? ReadOnlyMemory<byte>.Empty : data[payloadOffset..];
        message = new CoapMessage(
            (CoapMessageType)((span[0] >> 4) & 0x3),
            new CoapCode(span[1]),
            BinaryPrimitives.ReadUInt16BigEndian(span[2..]),
            data.Slice(4, tokenLength),
            options,
            payload);
        return true;
    }

    // First pass: checks the structure and counts options without allocating.
    private static CoapDecodeError Validate(ReadOnlySpan<byte> span, out int tokenLength, out int optionCount, out int payloadOffset)
    {
        tokenLength = 0;
        optionCount = 0;
        payloadOffset = -1;
        if (span.Length < 4)
        {
            return CoapDecodeError.TooShort;
        }

        if (span[0] >> 6 != 1)
        {
            return CoapDecodeError.UnsupportedVersion;
        }

        tokenLength = span[0] & 0x0F;
        if (tokenLength > MaxTokenLength)
        {
            return CoapDecodeError.InvalidTokenLength;
        }

        if (span[1] == 0 && (span.Length != 4 || tokenLength != 0))
        {
            // RFC 7252 4.1: an Empty message is exactly the 4-byte header.
            return CoapDecodeError.EmptyMessageNotEmpty;
        }

        int position = 4 + tokenLength;
        if (position > span.Length)
        {
            return CoapDecodeError.TruncatedToken;
        }

        int number = 0;
        while (position < span.Length)
        {
            if (span[position] == PayloadMarker)
            {
                if (position + 1 == span.Length)
                {
                    return CoapDecodeError.EmptyPayloadAfterMarker;
                }

                payloadOffset = position + 1;
                return CoapDecodeError.None;
            }

            CoapDecodeError headerError = TryReadOptionHeader(span, ref position, out int delta, out int length);
            if (headerError != CoapDecodeError.None)
            {
                return headerError;
            }

            number += delta;
            if (number > ushort.MaxValue)
            {
                return CoapDecodeError.OptionNumberOverflow;
            }

            if (length > span.Length - position)
            {
                return CoapDecodeError.TruncatedOption;
            }

            position += length;
            if (++optionCount > MaxOptionCount)
            {
                return CoapDecodeError.TooManyOptions;
            }
        }

        return CoapDecodeError.None;
    }

    private static CoapDecodeError TryReadOptionHeader(ReadOnlySpan<byte> span, ref int position, out int delta, out int length)
    {
        byte header = span[position++];
        delta = header >> 4;
        length = header & 0x0F;
        if (delta == 15 || length == 15)
        {
            return CoapDecodeError.ReservedOptionNibble;
        }

        if (!TryReadExtendedField(span, ref position, ref delta) || !TryReadExtendedField(span, ref position, ref length))
        {
            return CoapDecodeError.TruncatedOption;
        }

        return CoapDecodeError.None;
    }

    private static void ReadOptionHeader(ReadOnlySpan<byte> span, ref int position, out int delta, out int length)
    {
        TryReadOptionHeader(span, ref position, out delta, out length);
    }

    // Nibble 13: one extra byte + 13; nibble 14: two extra bytes (big-endian) + 269 (RFC 7252 3.1).
    private static bool TryReadExtendedField(ReadOnlySpan<byte> span, ref int position, ref int value)
    {
        if (value == 13)
        {
            if (position + 1 > span.Length)
            {
                return false;
            }

            value = span[position++] + 13;
        }
        else if (value == 14)
        {
            if (position + 2 > span.Length)
            {
                return false;
            }

            value = BinaryPrimitives.ReadUInt16BigEndian(span[position..]) + 269;
            position += 2;
        }

        return true;
    }

    private static int Nibble(int value) => value < 13 ? value : value < 269 ? 13 : 14;

    private static int ExtendedFieldLength(int value) => value < 13 ? 0 : value < 269 ? 1 : 2;

    private static int WriteExtendedField(Span<byte> destination, int value)
    {
        if (value < 13)
        {
            return 0;
        }

        if (value < 269)
        {
            destination[0] = (byte)(value - 13);
            return 1;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(value - 269));
        return 2;
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(Type switch
        {
            CoapMessageType.Confirmable => "CON",
            CoapMessageType.NonConfirmable => "NON",
            CoapMessageType.Acknowledgement => "ACK",
            _ => "RST",
        });
        text.Append(' ').Append(Code).Append(" id=").Append(MessageId);
        if (!Token.IsEmpty)
        {
            text.Append(" token=").Append(Convert.ToHexString(Token.Span));
        }

        foreach (CoapOption option in _options)
        {
            text.Append(' ').Append(option);
        }

        if (!Payload.IsEmpty)
        {
            text.Append(" payload=").Append(Payload.Length).Append('B');
        }

        return text.ToString();
    }
}
