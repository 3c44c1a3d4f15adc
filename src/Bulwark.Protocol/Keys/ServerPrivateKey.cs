using System.Security.Cryptography;

namespace Bulwark.Protocol.Keys;

/// <summary>The cloud's RSA-2048 key for the Gen2 handshake: decrypts device identifications and signs session keys.</summary>
/// <remarks>Thread-safe for concurrent handshakes.</remarks>
public sealed class ServerPrivateKey : IDisposable
{
    /// <summary>RSA-2048 modulus length in bytes, which is also the signature and ciphertext length.</summary>
    public const int ModulusLength = 256;

    private readonly RSA _rsa;
    private readonly RSAParameters _privateParameters;
    private readonly OpenSslRsaSigner? _nativeSigner;

    private ServerPrivateKey(RSA rsa)
    {
        if (rsa.KeySize != 2048)
        {
            rsa.Dispose();
            throw new ArgumentException("The Gen2 server key is RSA-2048 (devices read a 256-byte modulus).");
        }

        _rsa = rsa;
        _privateParameters = rsa.ExportParameters(true);
        if (!_privateParameters.Exponent.AsSpan().SequenceEqual((ReadOnlySpan<byte>)[0x01, 0x00, 0x01]))
        {
            rsa.Dispose();
            throw new ArgumentException("Devices assume the server key's exponent is 65537.");
        }

        PublicKeySpki = rsa.ExportSubjectPublicKeyInfo();
        _nativeSigner = OpenSslRsaSigner.TryCreate(rsa.ExportRSAPrivateKey(), ModulusLength);
    }

    /// <summary>The 294-byte SubjectPublicKeyInfo DER devices are given (modulus at offset 33).</summary>
    public byte[] PublicKeySpki { get; }

    /// <summary>True when signing goes through libcrypto rather than the BigInteger fallback.</summary>
    public bool UsesNativeSigner => _nativeSigner is not null;

    /// <summary>A fresh RSA-2048 key with e = 65537.</summary>
    public static ServerPrivateKey Generate() => new(RSA.Create(2048));

    /// <summary>From PEM ("RSA PRIVATE KEY" or "PRIVATE KEY").</summary>
    public static ServerPrivateKey FromPem(string pem)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return new ServerPrivateKey(rsa);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    /// <summary>From PKCS#1 RSAPrivateKey or PKCS#8 DER.</summary>
    public static ServerPrivateKey FromDer(ReadOnlySpan<byte> der)
    {
        var rsa = RSA.Create();
        try
        {
            try
            {
                rsa.ImportRSAPrivateKey(der, out _);
            }
            catch (CryptographicException)
            {
                rsa.ImportPkcs8PrivateKey(der, out _);
            }

            return new ServerPrivateKey(rsa);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    public string ExportPem() => _rsa.ExportRSAPrivateKeyPem();

    /// <summary>Public key as PEM "PUBLIC KEY".</summary>
    public string ExportPublicKeyPem() => PemEncoding.WriteString("PUBLIC KEY", PublicKeySpki);

    /// <summary>
    /// Raw PKCS#1 v1.5 type 1 signature over <paramref name="data"/> with no DigestInfo (what <c>privateEncrypt</c> does in Node).
    /// Writes 256 bytes. Deterministic.
    /// </summary>
    public void SignPkcs1Type1(ReadOnlySpan<byte> data, Span<byte> signature)
    {
        if (_nativeSigner is not null)
        {
            _nativeSigner.Sign(data, signature);
        }
        else
        {
            SignPkcs1Type1Managed(data, signature);
        }
    }

    // The BigInteger path; tests prove it gives the same bytes as libcrypto.
    internal void SignPkcs1Type1Managed(ReadOnlySpan<byte> data, Span<byte> signature)
    {
        Span<byte> block = stackalloc byte[ModulusLength];
        Pkcs1Type1Padding.Pad(data, block);
        ManagedRawRsa.PrivateOperation(_privateParameters, block, signature[..ModulusLength]);
    }

    internal void SignPkcs1Type1Native(ReadOnlySpan<byte> data, Span<byte> signature)
    {
        if (_nativeSigner is null)
        {
            throw new PlatformNotSupportedException("libcrypto.so.3 is not available.");
        }

        _nativeSigner.Sign(data, signature);
    }

    /// <summary>PKCS#1 v1.5 decryption; false on any failure (hostile input never throws).</summary>
    public bool TryDecrypt(ReadOnlySpan<byte> ciphertext, Span<byte> destination, out int bytesWritten)
    {
        bytesWritten = 0;
        if (ciphertext.Length != ModulusLength)
        {
            return false;
        }

        try
        {
            return _rsa.TryDecrypt(ciphertext, destination, RSAEncryptionPadding.Pkcs1, out bytesWritten);
        }
        catch (CryptographicException)
        {
            bytesWritten = 0;
            return false;
        }
    }

    public void Dispose()
    {
        _nativeSigner?.Dispose();
        _rsa.Dispose();
    }
}
