using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;

namespace Bulwark.DeviceSim.Devices;

/// <summary>A virtual device's ID, its RSA-1024 key (Gen2, TCP) held as the PKCS#1 DER a device stores, and optionally its
/// EC P-256 key (Gen3, UDP/DTLS) held as the SEC1 <c>ECPrivateKey</c> DER Device OS keeps in its DCT.</summary>
/// <remarks>
/// Loading checks only the DER structure; the RSA key object is built at the first handshake and then kept, because
/// .NET validates an imported private key (primality checks) at a cost of many RSA operations.
/// </remarks>
public sealed class DeviceIdentity
{
    private static readonly BigInteger DeviceExponent = 65537;

    private readonly byte[] _privateKeyDer;
    private readonly byte[] _modulus;
    private readonly byte[]? _ecPrivateKeyDer;
    private DevicePrivateKey? _parsedKey;
    private ECDsa? _parsedEcKey;

    private DeviceIdentity(DeviceId id, byte[] privateKeyDer, byte[] modulus, byte[]? ecPrivateKeyDer = null)
    {
        Id = id;
        _privateKeyDer = privateKeyDer;
        _modulus = modulus;
        _ecPrivateKeyDer = ecPrivateKeyDer;
    }

    public DeviceId Id { get; }

    /// <summary>PKCS#1 RSAPrivateKey DER, the layout a device keeps in its DCT.</summary>
    public ReadOnlySpan<byte> PrivateKeyDer => _privateKeyDer;

    /// <summary>SEC1 <c>ECPrivateKey</c> DER of the EC P-256 key (about 121 bytes); empty when the device has none.</summary>
    public ReadOnlySpan<byte> EcPrivateKeyDer => _ecPrivateKeyDer;

    /// <summary>True when the device has an EC P-256 key, so it can speak the Gen3 UDP/DTLS protocol.</summary>
    public bool HasEcKey => _ecPrivateKeyDer is not null;

    /// <summary>A random 12-byte ID, a fresh RSA-1024 key (a few milliseconds of CPU) and a fresh EC P-256 key (far cheaper).</summary>
    public static DeviceIdentity Generate()
    {
        DevicePrivateKey key = DevicePrivateKey.Generate();
        byte[] der = key.ExportPkcs1Der();
        return new DeviceIdentity(DeviceId.FromBytes(RandomNumberGenerator.GetBytes(DeviceId.Length)), der, ReadModulus(der), GenerateEcKeyDer()) { _parsedKey = key };
    }

    /// <summary>A fresh EC P-256 private key as SEC1 DER, the form a Gen3 device stores.</summary>
    public static byte[] GenerateEcKeyDer()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return ec.ExportECPrivateKey();
    }

    /// <summary>
    /// This device with an EC P-256 key: SEC1 or PKCS#8 DER, or PEM (normalised to SEC1 DER). Throws
    /// <see cref="CryptographicException"/> or <see cref="ArgumentException"/> for anything else, such as another curve.
    /// </summary>
    public DeviceIdentity WithEcKey(ReadOnlySpan<byte> keyBytes)
    {
        using var ec = ECDsa.Create();
        if (LooksLikePem(keyBytes))
        {
            ec.ImportFromPem(Encoding.ASCII.GetString(keyBytes));
        }
        else
        {
            try
            {
                ec.ImportECPrivateKey(keyBytes, out _);
            }
            catch (CryptographicException)
            {
                ec.ImportPkcs8PrivateKey(keyBytes, out _);
            }
        }

        if (ec.KeySize != 256 || ec.ExportParameters(false).Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            throw new CryptographicException("The EC key is not on P-256 (secp256r1), the only curve Device OS uses.");
        }

        return new DeviceIdentity(Id, _privateKeyDer, _modulus, ec.ExportECPrivateKey()) { _parsedKey = _parsedKey };
    }

    /// <summary>The EC public key as PEM "PUBLIC KEY", what <c>POST /v1/provisioning/:deviceId</c> takes with <c>algorithm: "ecc"</c>.</summary>
    /// <exception cref="InvalidOperationException">The device has no EC key.</exception>
    public string GetEcPublicKeyPem() => GetEcKey().ExportSubjectPublicKeyInfoPem();

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

    /// <summary>The parsed EC key, built once and kept (owned by this identity; do not dispose).</summary>
    /// <exception cref="InvalidOperationException">The device has no EC key.</exception>
    internal ECDsa GetEcKey()
    {
        ECDsa? key = Volatile.Read(ref _parsedEcKey);
        if (key is not null)
        {
            return key;
        }

        if (_ecPrivateKeyDer is null)
        {
            throw new InvalidOperationException($"Device {Id} has no EC P-256 key, which the UDP protocol needs.");
        }

        key = ECDsa.Create();
        key.ImportECPrivateKey(_ecPrivateKeyDer, out _);
        ECDsa? raced = Interlocked.CompareExchange(ref _parsedEcKey, key, null);
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
