using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Bulwark.Protocol.Keys;

/// <summary>The Device Protection unlock hashes exactly as Device OS 6.x computes them (device-protocol.md 5.2,
/// <c>system/src/control/config.cpp</c>); shared by the cloud and the simulated device. Signatures are ECDSA P-256 over
/// the hash itself (SignHash/VerifyHash, never SignData of the hash), DER-encoded.</summary>
public static class ServiceModeSignatures
{
    public const int NonceLength = 32;
    public const int FingerprintLength = 32;

    /// <summary><c>SHA-256("device" ‖ device_id(12) ‖ LE32(32) ‖ device_nonce ‖ LE32(32) ‖ server_nonce)</c>: what the device signs.</summary>
    public static byte[] DeviceHash(ReadOnlySpan<byte> deviceId, ReadOnlySpan<byte> deviceNonce, ReadOnlySpan<byte> serverNonce)
    {
        RequireLength(deviceId, DeviceId.Length, nameof(deviceId));
        RequireLength(deviceNonce, NonceLength, nameof(deviceNonce));
        RequireLength(serverNonce, NonceLength, nameof(serverNonce));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData("device"u8);
        hash.AppendData(deviceId);
        AppendField(hash, deviceNonce);
        AppendField(hash, serverNonce);
        return hash.GetHashAndReset();
    }

    /// <summary><c>SHA-256("server" ‖ device_id ‖ LE32(32) ‖ server_nonce ‖ LE32(32) ‖ device_nonce ‖ LE32(32) ‖ device_pubkey_fingerprint)</c>:
    /// what the cloud signs and the device verifies with the server key it holds.</summary>
    public static byte[] ServerHash(ReadOnlySpan<byte> deviceId, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> deviceNonce,
        ReadOnlySpan<byte> devicePublicKeyFingerprint)
    {
        RequireLength(deviceId, DeviceId.Length, nameof(deviceId));
        RequireLength(serverNonce, NonceLength, nameof(serverNonce));
        RequireLength(deviceNonce, NonceLength, nameof(deviceNonce));
        RequireLength(devicePublicKeyFingerprint, FingerprintLength, nameof(devicePublicKeyFingerprint));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData("server"u8);
        hash.AppendData(deviceId);
        AppendField(hash, serverNonce);
        AppendField(hash, deviceNonce);
        AppendField(hash, devicePublicKeyFingerprint);
        return hash.GetHashAndReset();
    }

    /// <summary>SHA-256 of the public key's SubjectPublicKeyInfo DER.</summary>
    public static byte[] Fingerprint(ReadOnlySpan<byte> subjectPublicKeyInfo) => SHA256.HashData(subjectPublicKeyInfo);

    /// <summary>SHA-256 of the key's SubjectPublicKeyInfo DER.</summary>
    public static byte[] Fingerprint(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return SHA256.HashData(key.ExportSubjectPublicKeyInfo());
    }

    /// <summary>ECDSA over the 32-byte hash, DER as mbedtls writes it.</summary>
    public static byte[] Sign(ECDsa key, ReadOnlySpan<byte> hash)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.SignHash(hash, DSASignatureFormat.Rfc3279DerSequence);
    }

    /// <summary>Verifies a DER ECDSA signature over the 32-byte hash; false for malformed signatures.</summary>
    public static bool Verify(ECDsa key, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> derSignature)
    {
        ArgumentNullException.ThrowIfNull(key);
        try
        {
            return key.VerifyHash(hash, derSignature, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static void AppendField(IncrementalHash hash, ReadOnlySpan<byte> field)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)field.Length);
        hash.AppendData(length);
        hash.AppendData(field);
    }

    private static void RequireLength(ReadOnlySpan<byte> value, int length, string name)
    {
        if (value.Length != length)
        {
            throw new ArgumentException($"{name} must be {length} bytes, not {value.Length}", name);
        }
    }
}
