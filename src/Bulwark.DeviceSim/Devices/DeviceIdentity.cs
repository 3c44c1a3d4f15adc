using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;

namespace Bulwark.DeviceSim.Devices;

/// <summary>A virtual device's ID and RSA-1024 key, held as the PKCS#1 DER a device stores.</summary>
/// <remarks>
/// Loading checks only the DER structure; the RSA key object is built at the first handshake and then kept, because
/// .NET validates an imported private key (primality checks) at a cost of many RSA operations.
/// </remarks>
public sealed class DeviceIdentity
{
    private static readonly BigInteger DeviceExponent = 65537;

    private readonly byte[] _privateKeyDer;
    private readonly byte[] _modulus;
    private DevicePrivateKey? _parsedKey;

    private DeviceIdentity(DeviceId id, byte[] privateKeyDer, byte[] modulus)
    {
        Id = id;
        _privateKeyDer = privateKeyDer;
        _modulus = modulus;
    }

    public DeviceId Id { get; }

    /// <summary>PKCS#1 RSAPrivateKey DER, the layout a device keeps in its DCT.</summary>
    public ReadOnlySpan<byte> PrivateKeyDer => _privateKeyDer;

    /// <summary>A random 12-byte ID and a fresh RSA-1024 key (a few milliseconds of CPU).</summary>
    public static DeviceIdentity Generate()
    {
        DevicePrivateKey key = DevicePrivateKey.Generate();
        byte[] der = key.ExportPkcs1Der();
        return new DeviceIdentity(DeviceId.FromBytes(RandomNumberGenerator.GetBytes(DeviceId.Length)), der, ReadModulus(der)) { _parsedKey = key };
    }

    /// <summary>From an existing key object (copied; the caller keeps ownership).</summary>
    public static DeviceIdentity FromKey(DeviceId id, DevicePrivateKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        byte[] der = key.ExportPkcs1Der();
        return new DeviceIdentity(id, der, ReadModulus(der));
    }

    /// <summary>
    /// From key file contents: PKCS#1 DER (checked for shape only: RSA-1024, e = 65537), or PKCS#8 DER or PEM (fully parsed).
    /// Throws <see cref="CryptographicException"/> or <see cref="ArgumentException"/> on a bad key.
    /// </summary>
    public static DeviceIdentity FromKeyBytes(DeviceId id, ReadOnlySpan<byte> keyBytes)
    {
        if (!LooksLikePem(keyBytes) && TryReadPkcs1Modulus(keyBytes, out byte[]? modulus))
        {
            return new DeviceIdentity(id, keyBytes.ToArray(), modulus);
        }

        using DevicePrivateKey key = LooksLikePem(keyBytes)
            ? DevicePrivateKey.FromPem(Encoding.ASCII.GetString(keyBytes))
            : DevicePrivateKey.FromDer(keyBytes);
        return FromKey(id, key);
    }

    /// <summary>Parses the key into a new object; the caller disposes it.</summary>
    public DevicePrivateKey OpenPrivateKey() => DevicePrivateKey.FromDer(_privateKeyDer);

    /// <summary>The public key as PEM "PUBLIC KEY", the form <c>POST /v1/provisioning/:deviceId</c> takes. Cheap: no private-key import.</summary>
    public string GetPublicKeyPem() => GetPublicKey().ToPem();

    /// <summary>The public key, built from the modulus alone.</summary>
    public DevicePublicKey GetPublicKey()
    {
        using RSA rsa = RSA.Create();
        rsa.ImportParameters(new RSAParameters { Modulus = _modulus, Exponent = [0x01, 0x00, 0x01] });
        return DevicePublicKey.FromDer(rsa.ExportSubjectPublicKeyInfo());
    }

    /// <summary>The parsed key, built once and kept (owned by this identity; do not dispose).</summary>
    internal DevicePrivateKey GetParsedKey()
    {
        DevicePrivateKey? key = Volatile.Read(ref _parsedKey);
        if (key is not null)
        {
            return key;
        }

        key = OpenPrivateKey();
        DevicePrivateKey? raced = Interlocked.CompareExchange(ref _parsedKey, key, null);
        if (raced is null)
        {
            return key;
        }

        key.Dispose();
        return raced;
    }

    // RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, privateExponent, prime1, prime2, exponent1, exponent2, coefficient }
    private static bool TryReadPkcs1Modulus(ReadOnlySpan<byte> der, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? modulus)
    {
        modulus = null;
        try
        {
            var reader = new AsnReader(der.ToArray(), AsnEncodingRules.DER);
            AsnReader sequence = reader.ReadSequence();
            if (reader.HasData || !sequence.TryReadInt32(out int version) || version != 0)
            {
                return false;
            }

            BigInteger n = sequence.ReadInteger();
            BigInteger e = sequence.ReadInteger();
            for (int i = 0; i < 6; i++)
            {
                sequence.ReadIntegerBytes();
            }

            if (sequence.HasData || n.Sign <= 0 || n.GetBitLength() != 1024 || e != DeviceExponent)
            {
                return false;
            }

            modulus = n.ToByteArray(isUnsigned: true, isBigEndian: true);
            return true;
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    private static byte[] ReadModulus(byte[] pkcs1Der) =>
        TryReadPkcs1Modulus(pkcs1Der, out byte[]? modulus) ? modulus : throw new CryptographicException("Not an RSA-1024 PKCS#1 key.");

    public override string ToString() => Id.ToString();

    internal static bool LooksLikePem(ReadOnlySpan<byte> bytes) => bytes.TrimStart("\r\n\t \uFEFF"u8).StartsWith("-----BEGIN"u8);
}
