using System.Security.Cryptography;
using System.Text;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;

namespace Bulwark.DeviceSim.Devices;

/// <summary>A virtual device's ID and RSA-1024 key, held as the PKCS#1 DER a device stores.</summary>
/// <remarks>
/// Only the DER bytes (about 610) are kept; the key is parsed for each handshake and dropped again, so ten thousand
/// idle devices do not each hold two native RSA objects.
/// </remarks>
public sealed class DeviceIdentity
{
    private readonly byte[] _privateKeyDer;

    private DeviceIdentity(DeviceId id, byte[] privateKeyDer)
    {
        Id = id;
        _privateKeyDer = privateKeyDer;
    }

    public DeviceId Id { get; }

    /// <summary>PKCS#1 RSAPrivateKey DER, the layout a device keeps in its DCT.</summary>
    public ReadOnlySpan<byte> PrivateKeyDer => _privateKeyDer;

    /// <summary>A random 12-byte ID and a fresh RSA-1024 key (a few milliseconds of CPU).</summary>
    public static DeviceIdentity Generate()
    {
        using DevicePrivateKey key = DevicePrivateKey.Generate();
        return new DeviceIdentity(DeviceId.FromBytes(RandomNumberGenerator.GetBytes(DeviceId.Length)), key.ExportPkcs1Der());
    }

    /// <summary>From an existing key object (copied; the caller keeps ownership).</summary>
    public static DeviceIdentity FromKey(DeviceId id, DevicePrivateKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new DeviceIdentity(id, key.ExportPkcs1Der());
    }

    /// <summary>From key file contents: PKCS#1 or PKCS#8 DER, or PEM. Throws <see cref="CryptographicException"/> or <see cref="ArgumentException"/> on a bad key.</summary>
    public static DeviceIdentity FromKeyBytes(DeviceId id, ReadOnlySpan<byte> keyBytes)
    {
        using DevicePrivateKey key = LooksLikePem(keyBytes)
            ? DevicePrivateKey.FromPem(Encoding.ASCII.GetString(keyBytes))
            : DevicePrivateKey.FromDer(keyBytes);
        return FromKey(id, key);
    }

    /// <summary>Parses the key; the caller disposes it.</summary>
    public DevicePrivateKey OpenPrivateKey() => DevicePrivateKey.FromDer(_privateKeyDer);

    /// <summary>The public key as PEM "PUBLIC KEY", the form <c>POST /v1/provisioning/:deviceId</c> takes.</summary>
    public string GetPublicKeyPem()
    {
        using DevicePrivateKey key = OpenPrivateKey();
        return key.PublicKey.ToPem();
    }

    public override string ToString() => Id.ToString();

    internal static bool LooksLikePem(ReadOnlySpan<byte> bytes) => bytes.TrimStart("\r\n\t \uFEFF"u8).StartsWith("-----BEGIN"u8);
}
