using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Bulwark.Protocol.Dtls;

/// <summary>CertificateRequest (RFC 5246 7.4.4): ecdsa_sign, ECDSA-SHA256, no authorities (raw keys have none).</summary>
public static class DtlsCertificateRequest
{
    public const byte EcdsaSign = 64;

    public static byte[] Create() =>
        new DtlsWireWriter().Vector8([EcdsaSign]).Vector16([0x04, 0x03]).Vector16([]).ToArray();

    public static bool TryParse(ReadOnlySpan<byte> body)
    {
        var reader = new DtlsWireReader(body);
        return reader.TryReadVector8(out ReadOnlySpan<byte> types) && types.Contains(EcdsaSign)
            && reader.TryReadVector16(out ReadOnlySpan<byte> algorithms) && algorithms.Length % 2 == 0
            && reader.TryReadVector16(out _) && reader.Remaining == 0;
    }
}

/// <summary>
/// The client Certificate as RFC 7250 defines it for RawPublicKey: one SubjectPublicKeyInfo&lt;1..2^24-1&gt; instead of
/// a certificate list. Only P-256 keys are accepted, as Device OS holds no other kind.
/// </summary>
public static class DtlsRawPublicKeyCertificate
{
    /// <summary>SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (65-byte uncompressed point) }.</summary>
    public const int P256SpkiLength = 91;

    private static ReadOnlySpan<byte> P256SpkiPrefix => [0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04];

    public static byte[] Create(ReadOnlySpan<byte> spki) => new DtlsWireWriter().Vector24(spki).ToArray();

    public static bool TryParse(ReadOnlySpan<byte> body, [NotNullWhen(true)] out byte[]? spki)
    {
        spki = null;
        var reader = new DtlsWireReader(body);
        if (!reader.TryReadUInt24(out int length) || length == 0 || !reader.TryReadBytes(length, out ReadOnlySpan<byte> key) || reader.Remaining != 0)
        {
            return false;
        }

        // Check the algorithm and curve by bytes first: the importer throws PlatformNotSupportedException for
        // unknown curve OIDs (found by the fuzzer), and Device OS only ever holds P-256 keys.
        if (key.Length != P256SpkiLength || !key.StartsWith(P256SpkiPrefix))
        {
            return false;
        }

        try
        {
            using var ecdsa = ECDsa.Create();
            ecdsa.ImportSubjectPublicKeyInfo(key, out int read);
            if (read != key.Length)
            {
                return false;
            }
        }
        catch (CryptographicException)
        {
            return false;
        }

        spki = key.ToArray();
        return true;
    }
}

/// <summary>ClientKeyExchange for ECDHE: ECPoint&lt;1..255&gt;, uncompressed P-256 only.</summary>
public static class DtlsClientKeyExchange
{
    public static byte[] Create(ReadOnlySpan<byte> publicPoint) => new DtlsWireWriter().Vector8(publicPoint).ToArray();

    public static bool TryParse(ReadOnlySpan<byte> body, [NotNullWhen(true)] out byte[]? publicPoint)
    {
        publicPoint = null;
        var reader = new DtlsWireReader(body);
        if (!reader.TryReadVector8(out ReadOnlySpan<byte> point) || reader.Remaining != 0 || point.Length != DtlsServerKeyExchange.PointLength || point[0] != 0x04)
        {
            return false;
        }

        publicPoint = point.ToArray();
        return true;
    }
}

/// <summary>CertificateVerify: SignatureAndHashAlgorithm 0x0403 ‖ DER ECDSA-SHA256 signature over the handshake messages so far.</summary>
public static class DtlsCertificateVerify
{
    public static byte[] Create(ECDsa deviceKey, ReadOnlySpan<byte> transcriptHash) =>
        new DtlsWireWriter().UInt16(DtlsServerKeyExchange.EcdsaSha256).Vector16(deviceKey.SignHash(transcriptHash, DSASignatureFormat.Rfc3279DerSequence)).ToArray();

    public static bool TryParse(ReadOnlySpan<byte> body, [NotNullWhen(true)] out byte[]? signature)
    {
        signature = null;
        var reader = new DtlsWireReader(body);
        if (!reader.TryReadUInt16(out int algorithm) || algorithm != DtlsServerKeyExchange.EcdsaSha256 || !reader.TryReadVector16(out ReadOnlySpan<byte> der)
            || der.IsEmpty || reader.Remaining != 0)
        {
            return false;
        }

        signature = der.ToArray();
        return true;
    }

    public static bool Verify(ReadOnlySpan<byte> spki, ReadOnlySpan<byte> transcriptHash, ReadOnlySpan<byte> signature)
    {
        try
        {
            using var key = ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(spki, out _);
            return key.VerifyHash(transcriptHash, signature, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException)
        {
            return false;
        }
    }
}
