using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Bulwark.Protocol.Dtls;

/// <summary>
/// One DTLS 1.2 record: type(1) ‖ version FEFD(2) ‖ epoch(2) ‖ sequence(6) ‖ [cid, for type 25/253] ‖ length(2) ‖ fragment.
/// The CID has no length on the wire, so the parser is told the length the receiver issued.
/// </summary>
public sealed record DtlsRecord(DtlsContentType Type, ushort Epoch, ulong Sequence, ReadOnlyMemory<byte> Cid, ReadOnlyMemory<byte> Fragment)
{
    public const ushort Version12 = 0xFEFD;
    public const ushort Version10 = 0xFEFF;
    public const int HeaderLength = 13;
    public const ulong MaxSequence = (1UL << 48) - 1;
    public const int MaxFragmentLength = 16384 + 2048;

    public bool HasCid => Type is DtlsContentType.ConnectionId or DtlsContentType.ConnectionIdMoved;

    public static ulong CombineEpochAndSequence(ushort epoch, ulong sequence) => ((ulong)epoch << 48) | (sequence & MaxSequence);

    /// <summary>
    /// Reads the record at the start of <paramref name="datagram"/>; never throws. <paramref name="cidLength"/> is the
    /// length of CIDs this side issued (records of type 25/253 carry one). Accepts version FEFD, and FEFF for epoch 0
    /// (some clients send their first ClientHello as DTLS 1.0 records).
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> datagram, int cidLength, [NotNullWhen(true)] out DtlsRecord? record, out int consumed)
    {
        record = null;
        consumed = 0;
        ReadOnlySpan<byte> span = datagram.Span;
        if (span.Length < HeaderLength)
        {
            return false;
        }

        var type = (DtlsContentType)span[0];
        ushort version = BinaryPrimitives.ReadUInt16BigEndian(span[1..]);
        ushort epoch = BinaryPrimitives.ReadUInt16BigEndian(span[3..]);
        ulong sequence = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(span[5..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(span[7..]);
        bool withCid = type is DtlsContentType.ConnectionId or DtlsContentType.ConnectionIdMoved;
        if (!Enum.IsDefined(type) || (version != Version12 && !(version == Version10 && epoch == 0)) || (withCid && cidLength <= 0))
        {
            return false;
        }

        int cidEnd = 11 + (withCid ? cidLength : 0);
        if (span.Length < cidEnd + 2)
        {
            return false;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(span[cidEnd..]);
        int fragmentStart = cidEnd + 2;
        if (length > MaxFragmentLength || span.Length - fragmentStart < length)
        {
            return false;
        }

        record = new DtlsRecord(type, epoch, sequence, withCid ? datagram[11..cidEnd] : ReadOnlyMemory<byte>.Empty, datagram.Slice(fragmentStart, length));
        consumed = fragmentStart + length;
        return true;
    }

    /// <summary>Every well-formed record in a datagram, stopping at the first malformed one (RFC 6347 4.1.2.7: drop it).</summary>
    public static List<DtlsRecord> ParseDatagram(ReadOnlyMemory<byte> datagram, int cidLength)
    {
        var records = new List<DtlsRecord>(2);
        while (datagram.Length > 0 && TryParse(datagram, cidLength, out DtlsRecord? record, out int consumed))
        {
            records.Add(record);
            datagram = datagram[consumed..];
        }

        return records;
    }

    /// <summary>Writes the header for a fragment of <paramref name="length"/> bytes; returns the header length.</summary>
    public static int WriteHeader(Span<byte> destination, DtlsContentType type, ushort epoch, ulong sequence, ReadOnlySpan<byte> cid, int length)
    {
        destination[0] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[1..], Version12);
        BinaryPrimitives.WriteUInt64BigEndian(destination[3..], CombineEpochAndSequence(epoch, sequence));
        int offset = 11;
        if (type is DtlsContentType.ConnectionId or DtlsContentType.ConnectionIdMoved)
        {
            cid.CopyTo(destination[offset..]);
            offset += cid.Length;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], (ushort)length);
        return offset + 2;
    }

    public byte[] ToArray()
    {
        var bytes = new byte[HeaderLength + (HasCid ? Cid.Length : 0) + Fragment.Length];
        int header = WriteHeader(bytes, Type, Epoch, Sequence, Cid.Span, Fragment.Length);
        Fragment.Span.CopyTo(bytes.AsSpan(header));
        return bytes;
    }

    /// <summary>draft-05 DTLSInnerPlaintext: content ‖ real type (no padding: Device OS accepts none).</summary>
    public static byte[] WrapInnerPlaintext(DtlsContentType realType, ReadOnlySpan<byte> content) => [.. content, (byte)realType];

    /// <summary>Strips the zero padding and the real type from a CID record's plaintext; false when all zeros.</summary>
    public static bool TryUnwrapInnerPlaintext(ReadOnlySpan<byte> plaintext, out DtlsContentType realType, out int contentLength)
    {
        int last = plaintext.LastIndexOfAnyExcept((byte)0);
        realType = last < 0 ? 0 : (DtlsContentType)plaintext[last];
        contentLength = Math.Max(last, 0);
        return last >= 0 && realType is DtlsContentType.Alert or DtlsContentType.Handshake or DtlsContentType.ApplicationData or DtlsContentType.ChangeCipherSpec;
    }
}
