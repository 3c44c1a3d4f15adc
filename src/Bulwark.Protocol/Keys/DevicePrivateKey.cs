using System.Security.Cryptography;

namespace Bulwark.Protocol.Keys;

/// <summary>A Gen2 device's RSA-1024 private key, for the simulator (devices store it as PKCS#1 RSAPrivateKey DER).</summary>
public sealed class DevicePrivateKey : IDisposable
{
    /// <summary>The device's key slot holds at most this many DER bytes.</summary>
    public const int MaxDerLength = 612;

    private readonly RSA _rsa;

    private DevicePrivateKey(RSA rsa)
    {
        if (rsa.KeySize != 1024)
        {
            rsa.Dispose();
            throw new ArgumentException("A Gen2 device key is RSA-1024.");
        }

        _rsa = rsa;
        PublicKey = DevicePublicKey.FromParameters(rsa.ExportParameters(false));
    }

    public DevicePublicKey PublicKey { get; }

    /// <summary>A fresh RSA-1024 key with e = 65537.</summary>
    public static DevicePrivateKey Generate() => new(RSA.Create(1024));

    /// <summary>From PKCS#1 RSAPrivateKey DER (the device format) or PKCS#8.</summary>
    public static DevicePrivateKey FromDer(ReadOnlySpan<byte> der)
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

            return new DevicePrivateKey(rsa);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    /// <summary>From PEM ("RSA PRIVATE KEY" or "PRIVATE KEY").</summary>
    public static DevicePrivateKey FromPem(string pem)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return new DevicePrivateKey(rsa);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    /// <summary>PKCS#1 RSAPrivateKey DER, the layout a device stores (<c>openssl rsa -outform DER -traditional</c>).</summary>
    public byte[] ExportPkcs1Der() => _rsa.ExportRSAPrivateKey();

    public string ExportPem() => _rsa.ExportRSAPrivateKeyPem();

    // PKCS#1 v1.5 decryption; false on any padding or length failure (never throws on hostile input).
    internal bool TryDecrypt(ReadOnlySpan<byte> ciphertext, Span<byte> destination, out int bytesWritten)
    {
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

    public void Dispose() => _rsa.Dispose();
}
