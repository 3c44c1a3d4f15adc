using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Bulwark.Protocol.Dtls;

/// <summary>
/// ServerKeyExchange for ECDHE_ECDSA on secp256r1 (RFC 8422 5.4): ServerECDHParams = named_curve(3) ‖ 0x0017 ‖
/// 65 ‖ uncompressed point, then SignatureAndHashAlgorithm 0x0403 ‖ length(2) ‖ DER ECDSA-SHA256 over
/// client_random ‖ server_random ‖ params. With RFC 7250 the device verifies it against the server key in its flash.
/// </summary>
public sealed record DtlsServerKeyExchange(byte[] PublicPoint, byte[] Signature)
{
    public const byte NamedCurve = 3;
    public const ushort Secp256r1 = 0x0017;
    public const ushort EcdsaSha256 = 0x0403;
    public const int PointLength = 65;
    public const int ParamsLength = 4 + PointLength;

    public static byte[] EncodeParams(ReadOnlySpan<byte> publicPoint)
    {
        if (publicPoint.Length != PointLength || publicPoint[0] != 0x04)
        {
            throw new ArgumentException("An uncompressed P-256 point is 65 bytes starting with 04.", nameof(publicPoint));
        }

        return [NamedCurve, 0x00, 0x17, PointLength, .. publicPoint];
    }

    /// <summary>The signed bytes: client_random ‖ server_random ‖ params.</summary>
    public static byte[] SignedData(ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom, ReadOnlySpan<byte> parameters) =>
        [.. clientRandom, .. serverRandom, .. parameters];

    public static DtlsServerKeyExchange Create(ECDsa serverKey, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom, ReadOnlySpan<byte> publicPoint) =>
        Create(DtlsHashSigner.For(serverKey), clientRandom, serverRandom, publicPoint);

    public static DtlsServerKeyExchange Create(DtlsHashSigner signer, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom, ReadOnlySpan<byte> publicPoint)
    {
        byte[] hash = SHA256.HashData(SignedData(clientRandom, serverRandom, EncodeParams(publicPoint)));
        return new DtlsServerKeyExchange(publicPoint.ToArray(), signer.SignHash(hash));
    }

    public byte[] ToArray()
    {
        var body = new byte[ParamsLength + 4 + Signature.Length];
        EncodeParams(PublicPoint).CopyTo(body, 0);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(ParamsLength), EcdsaSha256);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(ParamsLength + 2), (ushort)Signature.Length);
        Signature.CopyTo(body, ParamsLength + 4);
        return body;
    }

    /// <summary>Parses the body; only the one curve and signature algorithm Device OS uses are accepted.</summary>
    public static bool TryParse(ReadOnlySpan<byte> body, [NotNullWhen(true)] out DtlsServerKeyExchange? message)
    {
        message = null;
        if (body.Length < ParamsLength + 4 || body[0] != NamedCurve || BinaryPrimitives.ReadUInt16BigEndian(body[1..]) != Secp256r1
            || body[3] != PointLength || body[4] != 0x04 || BinaryPrimitives.ReadUInt16BigEndian(body[ParamsLength..]) != EcdsaSha256)
        {
            return false;
        }

        int signatureLength = BinaryPrimitives.ReadUInt16BigEndian(body[(ParamsLength + 2)..]);
        if (signatureLength == 0 || body.Length != ParamsLength + 4 + signatureLength)
        {
            return false;
        }

        message = new DtlsServerKeyExchange(body.Slice(4, PointLength).ToArray(), body[(ParamsLength + 4)..].ToArray());
        return true;
    }

    public bool Verify(ECDsa serverPublicKey, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom) =>
        serverPublicKey.VerifyData(SignedData(clientRandom, serverRandom, EncodeParams(PublicPoint)), Signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
}

/// <summary>
/// Signs a SHA-256 hash with the server's P-256 key, DER-encoded; a delegate so a key store can keep its private key
/// to itself.
/// </summary>
public sealed class DtlsHashSigner(Func<byte[], byte[]> signHash)
{
    public static DtlsHashSigner For(ECDsa key) => new(hash => key.SignHash(hash, DSASignatureFormat.Rfc3279DerSequence));

    public byte[] SignHash(byte[] sha256Hash) => signHash(sha256Hash);
}
