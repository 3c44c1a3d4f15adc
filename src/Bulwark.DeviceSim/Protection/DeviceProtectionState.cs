using System.Security.Cryptography;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;

namespace Bulwark.DeviceSim.Protection;

/// <summary>Device OS control request types the protection gate knows (system/inc/system_control.h).</summary>
public static class ControlRequestType
{
    public const int AppCustom = 10;
    public const int DeviceId = 20;
    public const int GetProtectedState = 76;
    public const int SetProtectedState = 77;
}

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

/// <summary>SetProtectedStateRequest.action (control/config.proto).</summary>
public enum ProtectedStateAction
{
    Reset = 0,
    Prepare = 1,
    Confirm = 2,
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
                return new ControlReply(SystemError.None, _deviceId.ToArray());
            case ControlRequestType.AppCustom:
                return new ControlReply(SystemError.None, []);
            default:
                return Enforcing ? new ControlReply(SystemError.Protected, []) : new ControlReply(SystemError.None, []);
        }
    }

    private ControlReply SetProtectedState(ReadOnlySpan<byte> payload)
    {
        if (!ProtectedStateMessages.TryDecodeSetRequest(payload, out var request))
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
                        return new ControlReply(SystemError.None, ProtectedStateMessages.EncodeSetReply(null, null, null));
                    }
                    var deviceNonce = RandomNumberGenerator.GetBytes(ServiceModeSignatures.NonceLength);
                    var hash = ServiceModeSignatures.DeviceHash(_deviceId.ToArray(), deviceNonce, serverNonce);
                    var signature = ServiceModeSignatures.Sign(_deviceKey, hash);
                    _prepared = (serverNonce, deviceNonce, _time.GetUtcNow());
                    return new ControlReply(SystemError.None,
                        ProtectedStateMessages.EncodeSetReply(deviceNonce, signature, ServiceModeSignatures.Fingerprint(_deviceKey)));
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

/// <summary>The protobuf messages of control/config.proto used by requests 76 and 77, hand-encoded (wire types 0 and 2 only):
/// GetProtectedStateReply{state=1, overridden=2}; SetProtectedStateRequest{action=1, prepare=2{server_nonce=1},
/// confirm=3{server_signature=1, server_public_key_fingerprint=2}}; SetProtectedStateReply{prepare=1{device_nonce=1,
/// device_signature=2, device_public_key_fingerprint=3}}.</summary>
public static class ProtectedStateMessages
{
    public sealed record SetRequest(ProtectedStateAction Action, byte[]? ServerNonce, byte[]? ServerSignature, byte[]? ServerPublicKeyFingerprint);

    public sealed record PrepareReply(byte[]? DeviceNonce, byte[]? DeviceSignature, byte[]? DevicePublicKeyFingerprint);

    public static byte[] EncodeGetReply(bool state, bool overridden)
    {
        var w = new List<byte>();
        Varint(w, 1, state ? 1u : 0u);
        Varint(w, 2, overridden ? 1u : 0u);
        return [.. w];
    }

    public static (bool State, bool Overridden) DecodeGetReply(ReadOnlySpan<byte> data)
    {
        bool state = false, overridden = false;
        foreach (var (field, value, _) in Read(data.ToArray()))
        {
            if (field == 1) state = value != 0;
            if (field == 2) overridden = value != 0;
        }
        return (state, overridden);
    }

    public static byte[] EncodeSetRequest(ProtectedStateAction action, byte[]? serverNonce = null, byte[]? serverSignature = null, byte[]? serverFingerprint = null)
    {
        var w = new List<byte>();
        Varint(w, 1, (uint)action);
        if (serverNonce is not null)
        {
            var prepare = new List<byte>();
            Bytes(prepare, 1, serverNonce);
            Bytes(w, 2, [.. prepare]);
        }
        if (serverSignature is not null || serverFingerprint is not null)
        {
            var confirm = new List<byte>();
            if (serverSignature is not null) Bytes(confirm, 1, serverSignature);
            if (serverFingerprint is not null) Bytes(confirm, 2, serverFingerprint);
            Bytes(w, 3, [.. confirm]);
        }
        return [.. w];
    }

    public static bool TryDecodeSetRequest(ReadOnlySpan<byte> data, out SetRequest request)
    {
        request = new SetRequest(ProtectedStateAction.Reset, null, null, null);
        try
        {
            var action = ProtectedStateAction.Reset;
            byte[]? nonce = null, signature = null, fingerprint = null;
            foreach (var (field, value, bytes) in Read(data.ToArray()))
            {
                switch (field)
                {
                    case 1: action = (ProtectedStateAction)value; break;
                    case 2 when bytes is not null:
                        nonce = Read(bytes).FirstOrDefault(f => f.Field == 1).Bytes;
                        break;
                    case 3 when bytes is not null:
                        foreach (var inner in Read(bytes))
                        {
                            if (inner.Field == 1) signature = inner.Bytes;
                            if (inner.Field == 2) fingerprint = inner.Bytes;
                        }
                        break;
                }
            }
            if (!Enum.IsDefined(action))
            {
                return false;
            }
            request = new SetRequest(action, nonce, signature, fingerprint);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public static byte[] EncodeSetReply(byte[]? deviceNonce, byte[]? signature, byte[]? fingerprint)
    {
        var prepare = new List<byte>();
        if (deviceNonce is not null) Bytes(prepare, 1, deviceNonce);
        if (signature is not null) Bytes(prepare, 2, signature);
        if (fingerprint is not null) Bytes(prepare, 3, fingerprint);
        var w = new List<byte>();
        Bytes(w, 1, [.. prepare]);
        return [.. w];
    }

    public static PrepareReply DecodeSetReply(ReadOnlySpan<byte> data)
    {
        byte[]? nonce = null, signature = null, fingerprint = null;
        foreach (var (field, _, bytes) in Read(data.ToArray()))
        {
            if (field != 1 || bytes is null) continue;
            foreach (var inner in Read(bytes))
            {
                if (inner.Field == 1) nonce = inner.Bytes;
                if (inner.Field == 2) signature = inner.Bytes;
                if (inner.Field == 3) fingerprint = inner.Bytes;
            }
        }
        return new PrepareReply(nonce, signature, fingerprint);
    }

    private static void Varint(List<byte> w, int field, uint value)
    {
        WriteVarint(w, (uint)(field << 3));
        WriteVarint(w, value);
    }

    private static void Bytes(List<byte> w, int field, byte[] value)
    {
        WriteVarint(w, (uint)(field << 3 | 2));
        WriteVarint(w, (uint)value.Length);
        w.AddRange(value);
    }

    private static void WriteVarint(List<byte> w, uint value)
    {
        while (value >= 0x80)
        {
            w.Add((byte)(value | 0x80));
            value >>= 7;
        }
        w.Add((byte)value);
    }

    private static IEnumerable<(int Field, uint Value, byte[]? Bytes)> Read(byte[] data)
    {
        var list = new List<(int, uint, byte[]?)>();
        var i = 0;
        while (i < data.Length)
        {
            var key = ReadVarint(data, ref i);
            var field = (int)(key >> 3);
            switch (key & 7)
            {
                case 0:
                    list.Add((field, ReadVarint(data, ref i), null));
                    break;
                case 2:
                    var length = (int)ReadVarint(data, ref i);
                    if (length < 0 || i + length > data.Length) throw new FormatException("truncated field");
                    list.Add((field, 0, data[i..(i + length)]));
                    i += length;
                    break;
                default:
                    throw new FormatException("unsupported wire type");
            }
        }
        return list;
    }

    private static uint ReadVarint(byte[] data, ref int i)
    {
        uint value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (i >= data.Length) throw new FormatException("truncated varint");
            var b = data[i++];
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new FormatException("varint too long");
    }
}
