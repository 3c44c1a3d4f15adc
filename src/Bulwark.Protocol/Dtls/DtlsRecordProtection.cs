using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Bulwark.Protocol.Dtls;

/// <summary>
/// AES-128-CCM-8 protection of one direction's records (RFC 6655 / RFC 7251): nonce = implicit IV(4) ‖ epoch(2) ‖ seq(6);
/// the record fragment is explicit nonce (= epoch ‖ seq) ‖ ciphertext ‖ 8-byte tag.
/// </summary>
public sealed class DtlsRecordProtection : IDisposable
{
    public const int ExplicitNonceLength = 8;
    public const int TagLength = 8;
    public const int Overhead = ExplicitNonceLength + TagLength;
    public const int MaxAdditionalDataLength = 13 + 1 + 255;

    private readonly AesCcm _aes;
    private readonly byte[] _implicitIv;

    public DtlsRecordProtection(ReadOnlySpan<byte> key, ReadOnlySpan<byte> implicitIv)
    {
        if (key.Length != DtlsKeyBlock.KeyLength || implicitIv.Length != DtlsKeyBlock.ImplicitIvLength)
        {
            throw new ArgumentException("AES-128-CCM-8 needs a 16-byte key and a 4-byte implicit IV.");
        }

        _aes = new AesCcm(key);
        _implicitIv = implicitIv.ToArray();
    }

    /// <summary>
    /// The additional data: seq_num(8) ‖ type ‖ version(2) ‖ length(2) for normal records, and, draft-05 (mbedtls
    /// ssl_extract_add_data_from_record), seq_num(8) ‖ 25 ‖ version(2) ‖ cid ‖ cid_len(1) ‖ length(2) for CID records.
    /// Length is the plaintext length (for CID records, of the inner plaintext with its type and padding).
    /// </summary>
    public static int WriteAdditionalData(ushort epoch, ulong sequence, DtlsContentType type, ReadOnlySpan<byte> cid, int plaintextLength, Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, DtlsRecord.CombineEpochAndSequence(epoch, sequence));
        bool withCid = type is DtlsContentType.ConnectionId or DtlsContentType.ConnectionIdMoved;
        destination[8] = withCid ? (byte)DtlsContentType.ConnectionId : (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[9..], DtlsRecord.Version12);
        int offset = 11;
        if (withCid)
        {
            cid.CopyTo(destination[offset..]);
            offset += cid.Length;
            destination[offset++] = (byte)cid.Length;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], (ushort)plaintextLength);
        return offset + 2;
    }

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="destination"/> (plaintext length + 16 bytes).</summary>
    public int Seal(ushort epoch, ulong sequence, DtlsContentType type, ReadOnlySpan<byte> cid, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        Span<byte> nonce = stackalloc byte[12];
        WriteNonce(epoch, sequence, nonce);
        Span<byte> aad = stackalloc byte[MaxAdditionalDataLength];
        int aadLength = WriteAdditionalData(epoch, sequence, type, cid, plaintext.Length, aad);
        nonce[4..].CopyTo(destination);
        _aes.Encrypt(nonce, plaintext, destination.Slice(ExplicitNonceLength, plaintext.Length), destination.Slice(ExplicitNonceLength + plaintext.Length, TagLength), aad[..aadLength]);
        return plaintext.Length + Overhead;
    }

    /// <summary>
    /// Decrypts a record fragment; false when it is too short, its explicit nonce disagrees with the header, or the
    /// tag does not verify. <paramref name="plaintext"/> must hold fragment length - 16 bytes.
    /// </summary>
    public bool TryOpen(ushort epoch, ulong sequence, DtlsContentType type, ReadOnlySpan<byte> cid, ReadOnlySpan<byte> fragment, Span<byte> plaintext, out int plaintextLength)
    {
        plaintextLength = fragment.Length - Overhead;
        if (plaintextLength < 0 || plaintext.Length < plaintextLength)
        {
            plaintextLength = 0;
            return false;
        }

        Span<byte> nonce = stackalloc byte[12];
        _implicitIv.CopyTo(nonce);
        // mbedtls always writes epoch ‖ seq here; taking the nonce from the wire keeps us honest to what was sent.
        fragment[..ExplicitNonceLength].CopyTo(nonce[4..]);
        Span<byte> aad = stackalloc byte[MaxAdditionalDataLength];
        int aadLength = WriteAdditionalData(epoch, sequence, type, cid, plaintextLength, aad);
        try
        {
            _aes.Decrypt(nonce, fragment.Slice(ExplicitNonceLength, plaintextLength), fragment[(ExplicitNonceLength + plaintextLength)..], plaintext[..plaintextLength], aad[..aadLength]);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            plaintext[..plaintextLength].Clear();
            plaintextLength = 0;
            return false;
        }
    }

    public void Dispose() => _aes.Dispose();

    private void WriteNonce(ushort epoch, ulong sequence, Span<byte> nonce)
    {
        _implicitIv.CopyTo(nonce);
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], DtlsRecord.CombineEpochAndSequence(epoch, sequence));
    }
}
