using System.Security.Cryptography;

namespace Bulwark.Protocol.Keys;

/// <summary>The cloud's RSA-2048 public key as a device holds it: the modulus read at offset 33 of the SPKI, e = 65537.</summary>
public sealed class ServerPublicKey
{
    /// <summary>Where Device OS reads the modulus in the 294-byte SPKI, without parsing ASN.1.</summary>
    public const int ModulusOffset = 33;

    public const int ModulusLength = 256;

    private static readonly byte[] Exponent = [0x01, 0x00, 0x01];

    private readonly byte[] _modulus;
    private readonly RSA _rsa;

    private ServerPublicKey(byte[] modulus)
    {
        _modulus = modulus;
        _rsa = RSA.Create();
        _rsa.ImportParameters(new RSAParameters { Modulus = modulus, Exponent = Exponent });
    }

    public ReadOnlySpan<byte> Modulus => _modulus;

    /// <summary>Reads the key the way the device does: 256 bytes at offset 33 (also accepts a whole server key blob).</summary>
    public static ServerPublicKey FromSpki(ReadOnlySpan<byte> spki)
    {
        if (spki.Length < ModulusOffset + ModulusLength)
        {
            throw new ArgumentException("Too short to hold an RSA-2048 SubjectPublicKeyInfo.", nameof(spki));
        }

        byte[] modulus = spki.Slice(ModulusOffset, ModulusLength).ToArray();
        if ((modulus[0] & 0x80) == 0)
        {
            throw new ArgumentException("No RSA-2048 modulus at offset 33.", nameof(spki));
        }

        return new ServerPublicKey(modulus);
    }

    /// <summary>From PEM "PUBLIC KEY" (or a private key PEM's public half).</summary>
    public static ServerPublicKey FromPem(string pem)
    {
        using RSA rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        return FromSpki(rsa.ExportSubjectPublicKeyInfo());
    }

    // RSA-PKCS#1 v1.5 encryption (random padding) under the server key.
    internal byte[] Encrypt(ReadOnlySpan<byte> plaintext) => _rsa.Encrypt(plaintext.ToArray(), RSAEncryptionPadding.Pkcs1);

    /// <summary>True when <paramref name="signature"/> is a type 1 block over exactly <paramref name="expected"/> (MBEDTLS_MD_NONE).</summary>
    public bool VerifyPkcs1Type1(ReadOnlySpan<byte> signature, ReadOnlySpan<byte> expected)
    {
        if (signature.Length != ModulusLength)
        {
            return false;
        }

        Span<byte> block = stackalloc byte[ModulusLength];
        return ManagedRawRsa.TryPublicOperation(_modulus, Exponent, signature, block)
            && Pkcs1Type1Padding.TryUnpad(block, out ReadOnlySpan<byte> recovered)
            && CryptographicOperations.FixedTimeEquals(recovered, expected);
    }
}
