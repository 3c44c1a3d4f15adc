using System.Security.Cryptography;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.LocalControl;

namespace Bulwark.DeviceSim.Protection;

/// <summary>Device OS system error codes used by the gate and the unlock exchange (services/inc/system_error.h).</summary>
public static class SystemError
{
    public const int None = 0;
    public const int InvalidState = -210;
    public const int Timeout = -160;
    public const int NotAllowed = -130;
    public const int InvalidArgument = -120;
    public const int NotSupported = -110;
    public const int InvalidSignature = -1250;
    public const int KeyMismatch = -1260;
    public const int Protected = -1270;
}

/// <summary>A control request reply: the Device OS result code and the reply payload.</summary>
public sealed record ControlReply(int Result, byte[] Payload)
{
    public bool Ok => Result == SystemError.None;
}

/// <summary>Device Protection on the simulated device, as Device OS 6.x does it (device-protocol.md 5): protected when the
/// bootloader carries SECURITY_MODE = protected; the local control gate lets through only GetProtectedState (76),
/// SetProtectedState (77), DEVICE_ID and APP_CUSTOM; Service Mode comes from PREPARE/CONFIRM verified against the server
/// EC key the device holds (by its SPKI fingerprint, within 60 s) and ends after 24 hours, 20 resets, or RESET.</summary>
public sealed class DeviceProtectionState
{
    public static readonly TimeSpan ConfirmWindow = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan OverrideDuration = TimeSpan.FromHours(24);
    public const int OverrideResets = 20;

    private readonly Lock _gate = new();
    private readonly DeviceId _deviceId;
    private readonly ECDsa _deviceKey;
    private readonly byte[] _serverKeySpki;
    private readonly TimeProvider _time;
    private bool _protected;
    private DateTimeOffset? _overrideUntil;
    private int _overrideResetsLeft;
    private (byte[] ServerNonce, byte[] DeviceNonce, DateTimeOffset At)? _prepared;

    /// <param name="deviceKey">The device's EC P-256 key (its UDP key).</param>
    /// <param name="serverKeySpki">The UDP server public key in the device's DCT, SubjectPublicKeyInfo DER.</param>
    public DeviceProtectionState(DeviceId deviceId, ECDsa deviceKey, byte[] serverKeySpki, TimeProvider? time = null, bool isProtected = false)
    {
        ArgumentNullException.ThrowIfNull(deviceKey);
        ArgumentNullException.ThrowIfNull(serverKeySpki);
        _deviceId = deviceId;
        _deviceKey = deviceKey;
        _serverKeySpki = serverKeySpki;
        _time = time ?? TimeProvider.System;
        _protected = isProtected;
    }

    /// <summary>The bootloader is protected (what the Describe's protected_state reports, Service Mode or not).</summary>
    public bool IsProtected
    {
        get { lock (_gate) { return _protected; } }
    }

    /// <summary>Protected and overridden to NONE for now.</summary>
    public bool InServiceMode
    {
        get { lock (_gate) { return _protected && OverrideHolds(); } }
    }

    /// <summary>Whether local access is closed right now.</summary>
    public bool Enforcing
    {
        get { lock (_gate) { return _protected && !OverrideHolds(); } }
    }

    /// <summary>A protected bootloader was applied (OTA): protection is on from the next boot.</summary>
    public void ApplyProtectedBootloader()
    {
        lock (_gate)
        {
            _protected = true;
        }
    }

    /// <summary>A reset: Service Mode counts it down.</summary>
    public void OnReset()
    {
        lock (_gate)
        {
            _prepared = null;
            if (_overrideUntil is not null && --_overrideResetsLeft <= 0)
            {
                _overrideUntil = null;
            }
        }
    }

    /// <summary>A USB/BLE control request, through the protection gate.</summary>
    public ControlReply HandleControlRequest(int type, ReadOnlySpan<byte> payload)
    {
        switch (type)
        {
            case ControlRequestType.GetProtectedState:
                lock (_gate)
                {
                    return new ControlReply(SystemError.None, ProtectedStateMessages.EncodeGetReply(_protected, _protected && OverrideHolds()));
                }
            case ControlRequestType.SetProtectedState:
                return SetProtectedState(payload);
            case ControlRequestType.DeviceId:
                return new ControlReply(SystemError.None, ProtectedStateMessages.EncodeDeviceIdReply(_deviceId));
            case ControlRequestType.AppCustom:
                return new ControlReply(SystemError.None, []);
            default:
                return Enforcing ? new ControlReply(SystemError.Protected, []) : new ControlReply(SystemError.None, []);
        }
    }

    private ControlReply SetProtectedState(ReadOnlySpan<byte> payload)
    {
        if (!ProtectedStateMessages.TryDecodeSetRequest(payload, out var request) || !Enum.IsDefined(request.Action))
        {
            return new ControlReply(SystemError.InvalidArgument, []);
        }
        lock (_gate)
        {
            switch (request.Action)
            {
                case ProtectedStateAction.Reset:
                    _overrideUntil = null;
                    _prepared = null;
                    return new ControlReply(SystemError.None, []);
                case ProtectedStateAction.Prepare:
                {
                    if (request.ServerNonce is not { Length: ServiceModeSignatures.NonceLength } serverNonce)
                    {
                        return new ControlReply(SystemError.InvalidArgument, []);
                    }
                    if (!_protected || OverrideHolds())
                    {
                        // Not protected (or already overridden): an empty prepare.
                        return new ControlReply(SystemError.None, ProtectedStateMessages.EncodeSetReply(ProtectedStatePrepareReply.Empty));
                    }
                    var deviceNonce = RandomNumberGenerator.GetBytes(ServiceModeSignatures.NonceLength);
                    var hash = ServiceModeSignatures.DeviceHash(_deviceId.ToArray(), deviceNonce, serverNonce);
                    var signature = ServiceModeSignatures.Sign(_deviceKey, hash);
                    _prepared = (serverNonce, deviceNonce, _time.GetUtcNow());
                    return new ControlReply(SystemError.None,
                        ProtectedStateMessages.EncodeSetReply(new ProtectedStatePrepareReply(deviceNonce, signature, ServiceModeSignatures.Fingerprint(_deviceKey))));
                }
                case ProtectedStateAction.Confirm:
                {
                    // Device OS's order: malformed, then the 60 s timeout, then the key fingerprint, then the signature.
                    if (request.ServerSignature is not { Length: > 0 } signature
                        || request.ServerPublicKeyFingerprint is not { Length: ServiceModeSignatures.FingerprintLength } fingerprint)
                    {
                        return new ControlReply(SystemError.InvalidArgument, []);
                    }
                    if (_prepared is not { } prepared)
                    {
                        return new ControlReply(SystemError.InvalidState, []);
                    }
                    if (_time.GetUtcNow() - prepared.At > ConfirmWindow)
                    {
                        _prepared = null;
                        return new ControlReply(SystemError.Timeout, []);
                    }
                    if (!CryptographicOperations.FixedTimeEquals(fingerprint, ServiceModeSignatures.Fingerprint(_serverKeySpki)))
                    {
                        return new ControlReply(SystemError.KeyMismatch, []);
                    }
                    var hash = ServiceModeSignatures.ServerHash(_deviceId.ToArray(), prepared.ServerNonce, prepared.DeviceNonce,
                        ServiceModeSignatures.Fingerprint(_deviceKey));
                    using var serverKey = ECDsa.Create();
                    serverKey.ImportSubjectPublicKeyInfo(_serverKeySpki, out _);
                    _prepared = null;
                    if (!ServiceModeSignatures.Verify(serverKey, hash, signature))
                    {
                        return new ControlReply(SystemError.InvalidSignature, []);
                    }
                    _overrideUntil = _time.GetUtcNow() + OverrideDuration;
                    _overrideResetsLeft = OverrideResets;
                    return new ControlReply(SystemError.None, []);
                }
                default:
                    return new ControlReply(SystemError.InvalidArgument, []);
            }
        }
    }

    private bool OverrideHolds()
    {
        if (_overrideUntil is { } until && _time.GetUtcNow() >= until)
        {
            _overrideUntil = null;
        }
        return _overrideUntil is not null;
    }
}
