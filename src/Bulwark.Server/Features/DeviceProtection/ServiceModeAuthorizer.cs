using System.Collections.Concurrent;
using System.Security.Cryptography;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Features.Keys;

namespace Bulwark.Server.Features.DeviceProtection;

/// <summary>The cloud's EC key as the Service Mode exchange needs it: the same key the devices hold as their UDP server
/// key, since Device OS pins it by fingerprint.</summary>
public interface IServiceModeSigner
{
    /// <summary>SubjectPublicKeyInfo DER of the P-256 public key.</summary>
    byte[] PublicKeySpki { get; }

    /// <summary>DER ECDSA signature over a 32-byte hash.</summary>
    byte[] SignHash(ReadOnlySpan<byte> hash);
}

/// <summary>The server key store's EC key.</summary>
public sealed class ServerKeyServiceModeSigner(ServerKeyStore keys) : IServiceModeSigner
{
    public byte[] PublicKeySpki => keys.EcPublicKeySpki;

    public byte[] SignHash(ReadOnlySpan<byte> hash) => keys.SignEcHash(hash);
}

/// <summary>What <c>confirm</c> sends, decoded from base64.</summary>
public sealed record ServiceModeConfirmation(byte[] ServerNonce, byte[] DeviceNonce, byte[] DeviceSignature, byte[] DevicePublicKeyFingerprint);

/// <summary>The outcome of <see cref="ServiceModeAuthorizer.Confirm"/>.</summary>
public sealed record ServiceModeGrant(bool Granted, string? Code, string? Error, byte[]? ServerSignature, byte[]? ServerPublicKeyFingerprint)
{
    public static ServiceModeGrant Refuse(string code, string error) => new(false, code, error, null, null);
}

/// <summary>The cloud's half of the Service Mode exchange (device-protocol.md 5.2, particle-api.md 4.2). <c>prepare</c> makes
/// a 32-byte server nonce for one device and remembers it for 60 s; <c>confirm</c> takes that nonce once (a second
/// confirm with it is a replay), checks the device's fingerprint against its registered EC key and its ECDSA signature
/// over <see cref="ServiceModeSignatures.DeviceHash"/>, and signs <see cref="ServiceModeSignatures.ServerHash"/> with the
/// server key. Pending nonces live in memory: a restart makes the operator run the exchange again.</summary>
public sealed class ServiceModeAuthorizer(IServiceModeSigner signer, TimeProvider clock)
{
    public static readonly TimeSpan PrepareLifetime = TimeSpan.FromSeconds(60);

    public const string DeviceKeyNotFound = "Device public key was not found";

    public const string CodeNoKey = "device_key_not_found";
    public const string CodeUnknownNonce = "unknown_server_nonce";
    public const string CodeExpired = "server_nonce_expired";
    public const string CodeFingerprint = "device_key_mismatch";
    public const string CodeSignature = "invalid_device_signature";
    public const string CodeMalformed = "invalid_request";

    private const int MaxPendingPerDevice = 8;

    private readonly ConcurrentDictionary<(string DeviceId, string Nonce), DateTimeOffset> _pending = new();

    /// <summary>Fingerprint of the server key (what the device compares with the key in its DCT).</summary>
    public byte[] ServerPublicKeyFingerprint => ServiceModeSignatures.Fingerprint(signer.PublicKeySpki);

    /// <summary>A fresh 32-byte nonce for <paramref name="deviceId"/>, good for one confirm within 60 s.</summary>
    public byte[] Prepare(string deviceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        var now = clock.GetUtcNow();
        Sweep(now);
        // Bound what one device can keep pending; the oldest goes first.
        var mine = _pending.Where(p => p.Key.DeviceId == deviceId).OrderBy(p => p.Value).ToList();
        foreach (var stale in mine.Take(Math.Max(0, mine.Count - MaxPendingPerDevice + 1)))
        {
            _pending.TryRemove(stale.Key, out _);
        }
        var nonce = RandomNumberGenerator.GetBytes(ServiceModeSignatures.NonceLength);
        Remember(deviceId, nonce);
        return nonce;
    }

    /// <summary>Records <paramref name="nonce"/> as issued now (tests use it to replay fixed vectors).</summary>
    internal void Remember(string deviceId, byte[] nonce) => _pending[(deviceId, Convert.ToHexString(nonce))] = clock.GetUtcNow();

    /// <summary>Checks the device's answer and, when it holds, signs the server's. The nonce is used up whatever the outcome.</summary>
    /// <param name="devicePublicKeySpki">The device's registered EC public key (SubjectPublicKeyInfo DER); null when it has none.</param>
    public ServiceModeGrant Confirm(string deviceId, byte[]? devicePublicKeySpki, ServiceModeConfirmation confirmation)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentNullException.ThrowIfNull(confirmation);
        if (confirmation.ServerNonce.Length != ServiceModeSignatures.NonceLength || confirmation.DeviceNonce.Length != ServiceModeSignatures.NonceLength
            || confirmation.DevicePublicKeyFingerprint.Length != ServiceModeSignatures.FingerprintLength || confirmation.DeviceSignature.Length is 0 or > 80)
        {
            return ServiceModeGrant.Refuse(CodeMalformed,
                "server_nonce and device_nonce must be 32 bytes, device_public_key_fingerprint 32 bytes and device_signature a DER ECDSA signature (base64)");
        }
        if (!Protocol.DeviceId.TryParse(deviceId, out var id))
        {
            return ServiceModeGrant.Refuse(CodeMalformed, "Not a device ID");
        }
        var now = clock.GetUtcNow();
        if (!_pending.TryRemove((deviceId, Convert.ToHexString(confirmation.ServerNonce)), out var issuedAt))
        {
            return ServiceModeGrant.Refuse(CodeUnknownNonce, "The server nonce is unknown or was already used; run prepare again");
        }
        if (now - issuedAt > PrepareLifetime)
        {
            return ServiceModeGrant.Refuse(CodeExpired, "The prepare step expired (confirm within 60 seconds); run prepare again");
        }
        if (devicePublicKeySpki is null || devicePublicKeySpki.Length == 0)
        {
            return ServiceModeGrant.Refuse(CodeNoKey, DeviceKeyNotFound);
        }
        var fingerprint = ServiceModeSignatures.Fingerprint(devicePublicKeySpki);
        if (!CryptographicOperations.FixedTimeEquals(fingerprint, confirmation.DevicePublicKeyFingerprint))
        {
            return ServiceModeGrant.Refuse(CodeFingerprint, "The device's public key fingerprint does not match the key registered for this device");
        }
        Span<byte> idBytes = stackalloc byte[Protocol.DeviceId.Length];
        id.WriteTo(idBytes);
        var deviceHash = ServiceModeSignatures.DeviceHash(idBytes, confirmation.DeviceNonce, confirmation.ServerNonce);
        using (var deviceKey = ECDsa.Create())
        {
            try
            {
                deviceKey.ImportSubjectPublicKeyInfo(devicePublicKeySpki, out _);
            }
            catch (CryptographicException)
            {
                return ServiceModeGrant.Refuse(CodeNoKey, DeviceKeyNotFound);
            }
            if (!ServiceModeSignatures.Verify(deviceKey, deviceHash, confirmation.DeviceSignature))
            {
                return ServiceModeGrant.Refuse(CodeSignature, "The device signature does not verify with the device's registered key");
            }
        }
        var serverHash = ServiceModeSignatures.ServerHash(idBytes, confirmation.ServerNonce, confirmation.DeviceNonce, fingerprint);
        return new ServiceModeGrant(true, null, null, signer.SignHash(serverHash), ServerPublicKeyFingerprint);
    }

    /// <summary>The SubjectPublicKeyInfo DER of a PEM public key, or null when there is none or it is not EC.</summary>
    public static byte[]? SpkiFromPem(string? pem)
    {
        if (string.IsNullOrWhiteSpace(pem))
        {
            return null;
        }
        try
        {
            using var key = ECDsa.Create();
            key.ImportFromPem(pem);
            return key.ExportSubjectPublicKeyInfo();
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            return null;
        }
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var entry in _pending)
        {
            if (now - entry.Value > PrepareLifetime)
            {
                _pending.TryRemove(entry.Key, out _);
            }
        }
    }
}
