using System.Security.Cryptography;

namespace Bulwark.Protocol.Keys;

/// <summary>A Gen2 device's RSA-1024 public key. Cache registered keys: the first encryption imports the key, which costs ~14x the encryption.</summary>
public sealed class DevicePublicKey
{
    /// <summary>Length of the SPKI a device builds for itself (device-protocol.md 1.1).</summary>
    public const int DeviceSpkiLength = 162;

    /// <summary>RSA-1024 modulus length in bytes.</summary>
    public const int ModulusLength = 128;

    // The fixed 29-byte header Device OS puts before the modulus (extract_public_rsa_key).
    private static ReadOnlySpan<byte> DeviceSpkiHeader =>
    [
        0x30, 0x81, 0x9F, 0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00,
        0x03, 0x81, 0x8D, 0x00, 0x30, 0x81, 0x89, 0x02, 0x81, 0x81, 0x00,
    ];

    private static ReadOnlySpan<byte> DeviceSpkiTrailer => [0x02, 0x03, 0x01, 0x00, 0x01];

    private readonly byte[] _deviceSpki;
    // Importing a key into an RSA object costs far more than using it, so do it only when we encrypt to this device.
    private readonly Lazy<RSA> _rsa;

    private DevicePublicKey(RSAParameters parameters)
    {
        byte[] modulus = parameters.Modulus!;
        if (modulus.Length != ModulusLength || (modulus[0] & 0x80) == 0)
        {
            throw new ArgumentException("A Gen2 device key is RSA-1024.");
        }

        if (!parameters.Exponent.AsSpan().SequenceEqual((ReadOnlySpan<byte>)[0x01, 0x00, 0x01]))
        {
            throw new ArgumentException("A Gen2 device key uses e = 65537.");
        }

        _deviceSpki = new byte[DeviceSpkiLength];
        DeviceSpkiHeader.CopyTo(_deviceSpki);
        modulus.CopyTo(_deviceSpki, DeviceSpkiHeader.Length);
        DeviceSpkiTrailer.CopyTo(_deviceSpki.AsSpan(DeviceSpkiHeader.Length + ModulusLength));
        byte[] exponent = parameters.Exponent!;
        _rsa = new Lazy<RSA>(() =>
        {
            var rsa = RSA.Create();
            rsa.ImportParameters(new RSAParameters { Modulus = modulus, Exponent = exponent });
            return rsa;
        });
    }

    /// <summary>The modulus, big-endian, 128 bytes.</summary>
    public ReadOnlySpan<byte> Modulus => _deviceSpki.AsSpan(DeviceSpkiHeader.Length, ModulusLength);

    /// <summary>From any DER form: SubjectPublicKeyInfo or PKCS#1 RSAPublicKey.</summary>
    public static DevicePublicKey FromDer(ReadOnlySpan<byte> der)
    {
        using RSA rsa = RSA.Create();
        try
        {
            rsa.ImportSubjectPublicKeyInfo(der, out _);
        }
        catch (CryptographicException)
        {
            rsa.ImportRSAPublicKey(der, out _);
        }

        return new DevicePublicKey(rsa.ExportParameters(false));
    }

    /// <summary>From PEM ("PUBLIC KEY" or "RSA PUBLIC KEY"; a private key PEM yields its public half).</summary>
    public static DevicePublicKey FromPem(string pem)
    {
        using RSA rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        return new DevicePublicKey(rsa.ExportParameters(false));
    }

    /// <summary>Reads the fixed 162-byte SPKI a device sends in its handshake, checking its fixed header and trailer.</summary>
    public static bool TryFromDeviceSpki(ReadOnlySpan<byte> spki, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DevicePublicKey? key)
    {
        key = null;
        if (spki.Length != DeviceSpkiLength
            || !spki[..DeviceSpkiHeader.Length].SequenceEqual(DeviceSpkiHeader)
            || !spki[(DeviceSpkiHeader.Length + ModulusLength)..].SequenceEqual(DeviceSpkiTrailer)
            || (spki[DeviceSpkiHeader.Length] & 0x80) == 0)
        {
            return false;
        }

        key = new DevicePublicKey(new RSAParameters
        {
            Modulus = spki.Slice(DeviceSpkiHeader.Length, ModulusLength).ToArray(),
            Exponent = [0x01, 0x00, 0x01],
        });
        return true;
    }

    internal static DevicePublicKey FromParameters(RSAParameters parameters) => new(new RSAParameters { Modulus = parameters.Modulus, Exponent = parameters.Exponent });

    /// <summary>The 162-byte SPKI, byte-identical to what the device sends (and to OpenSSL's DER for RSA-1024).</summary>
    public byte[] ToDeviceSpki() => (byte[])_deviceSpki.Clone();

    /// <summary>PEM "PUBLIC KEY" for storage and display.</summary>
    public string ToPem() => PemEncoding.WriteString("PUBLIC KEY", _deviceSpki);

    /// <summary>True when <paramref name="deviceSpki"/> is this key in the device's 162-byte form.</summary>
    public bool MatchesDeviceSpki(ReadOnlySpan<byte> deviceSpki) => deviceSpki.SequenceEqual(_deviceSpki);

    // RSA-PKCS#1 v1.5 encryption (random padding) to the device.
    internal byte[] Encrypt(ReadOnlySpan<byte> plaintext) => _rsa.Value.Encrypt(plaintext.ToArray(), RSAEncryptionPadding.Pkcs1);
}
