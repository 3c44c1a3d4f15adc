using Bulwark.Protocol.Keys;

namespace Bulwark.Protocol.Gen2;

/// <summary>Why the server refused a Gen2 handshake.</summary>
public enum Gen2HandshakeRefusal
{
    None = 0,
    /// <summary>The device ID has no registered key (the presented key is in the result, e.g. for quarantine).</summary>
    UnknownDevice,
    /// <summary>The device presented a public key other than the registered one.</summary>
    KeyMismatch,
    /// <summary>The identification decrypted but did not echo our nonce.</summary>
    BadNonce,
    /// <summary>The 256 bytes did not decrypt under the server key, or the plaintext has the wrong shape.</summary>
    Garbage,
    /// <summary>The device did not finish within the handshake timeout.</summary>
    Timeout,
    /// <summary>The connection ended (or failed) mid-handshake.</summary>
    ConnectionClosed,
}

/// <summary>Outcome of <see cref="Gen2ServerHandshake.RunAsync"/>: session keys and device ID, or a refusal reason.</summary>
public sealed record Gen2ServerHandshakeResult
{
    private Gen2ServerHandshakeResult(Gen2HandshakeRefusal refusal, DeviceId? deviceId, SessionKeys? sessionKeys, DevicePublicKey? presentedKey)
    {
        Refusal = refusal;
        DeviceId = deviceId;
        SessionKeys = sessionKeys;
        PresentedKey = presentedKey;
    }

    public bool Succeeded => Refusal == Gen2HandshakeRefusal.None;

    public Gen2HandshakeRefusal Refusal { get; }

    /// <summary>The device ID once the identification decrypted (also set on UnknownDevice and KeyMismatch).</summary>
    public DeviceId? DeviceId { get; }

    /// <summary>Set only on success.</summary>
    public SessionKeys? SessionKeys { get; }

    /// <summary>The key the device presented, when well formed (set on success, UnknownDevice and KeyMismatch).</summary>
    public DevicePublicKey? PresentedKey { get; }

    internal static Gen2ServerHandshakeResult Success(DeviceId deviceId, SessionKeys keys, DevicePublicKey presentedKey) =>
        new(Gen2HandshakeRefusal.None, deviceId, keys, presentedKey);

    internal static Gen2ServerHandshakeResult Refused(Gen2HandshakeRefusal refusal, DeviceId? deviceId = null, DevicePublicKey? presentedKey = null) =>
        new(refusal, deviceId, null, presentedKey);

    public override string ToString() => Succeeded ? $"Accepted {DeviceId}" : $"Refused {Refusal} {DeviceId}";
}

/// <summary>What a device sends in step 3 of the handshake, after decryption: nonce ‖ device ID ‖ its 162-byte SPKI.</summary>
public readonly ref struct Gen2DeviceIdentification
{
    public const int Length = Gen2ServerHandshake.NonceLength + Bulwark.Protocol.DeviceId.Length + DevicePublicKey.DeviceSpkiLength;

    internal Gen2DeviceIdentification(DeviceId deviceId, ReadOnlySpan<byte> presentedSpki)
    {
        DeviceId = deviceId;
        PresentedSpki = presentedSpki;
    }

    public DeviceId DeviceId { get; }

    /// <summary>The device's public key in its fixed 162-byte form.</summary>
    public ReadOnlySpan<byte> PresentedSpki { get; }
}
