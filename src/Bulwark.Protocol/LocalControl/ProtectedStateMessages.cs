using System.Diagnostics.CodeAnalysis;
using Bulwark.Protocol.Messages;

namespace Bulwark.Protocol.LocalControl;

/// <summary>Device OS control request types: the <c>(type_id)</c> options of @particle/device-os-protobuf 2.9.0
/// <c>control/config.proto</c> (CTRL_REQUEST_* in device-os <c>system/inc/system_control.h</c>).</summary>
public static class ControlRequestType
{
    /// <summary>CTRL_REQUEST_APP_CUSTOM: handed to the application; not in the .proto files (its payload is the app's).</summary>
    public const int AppCustom = 10;

    /// <summary><c>GetDeviceIdRequest</c>, <c>option (type_id) = 20</c> (config.proto line 46).</summary>
    public const int DeviceId = 20;

    /// <summary><c>GetProtectedStateRequest</c>, <c>option (type_id) = 76</c> (config.proto line 231).</summary>
    public const int GetProtectedState = 76;

    /// <summary><c>SetProtectedStateRequest</c>, <c>option (type_id) = 77</c> (config.proto line 240).</summary>
    public const int SetProtectedState = 77;
}

/// <summary><c>SetProtectedStateRequest.Action</c> (config.proto lines 243-247).</summary>
public enum ProtectedStateAction
{
    Reset = 0,
    Prepare = 1,
    Confirm = 2,
}

/// <summary><c>SetProtectedStateRequest</c>: <c>Action action = 1; oneof data { Prepare prepare = 2; Confirm confirm = 3; }</c>
/// with <c>Prepare { bytes server_nonce = 1; }</c> and <c>Confirm { bytes server_signature = 1; bytes
/// server_public_key_fingerprint = 2; }</c>. Null fields were absent. <see cref="Action"/> may hold a value the enum does
/// not name (proto3 enums are open); the device refuses it.</summary>
public sealed record SetProtectedStateRequest(ProtectedStateAction Action, byte[]? ServerNonce = null, byte[]? ServerSignature = null,
    byte[]? ServerPublicKeyFingerprint = null)
{
    public static SetProtectedStateRequest Reset() => new(ProtectedStateAction.Reset);

    public static SetProtectedStateRequest Prepare(byte[] serverNonce) => new(ProtectedStateAction.Prepare, ServerNonce: serverNonce);

    public static SetProtectedStateRequest Confirm(byte[] serverSignature, byte[] serverPublicKeyFingerprint) =>
        new(ProtectedStateAction.Confirm, ServerSignature: serverSignature, ServerPublicKeyFingerprint: serverPublicKeyFingerprint);
}

/// <summary><c>SetProtectedStateReply.Prepare</c>: <c>bytes device_nonce = 1; bytes device_signature = 2; bytes
/// device_public_key_fingerprint = 3;</c> (config.proto lines 267-271). All null: the empty prepare an unprotected device sends.</summary>
public sealed record ProtectedStatePrepareReply(byte[]? DeviceNonce, byte[]? DeviceSignature, byte[]? DevicePublicKeyFingerprint)
{
    public static ProtectedStatePrepareReply Empty { get; } = new(null, null, null);
}

/// <summary>The protobuf messages of control requests 20, 76 and 77 (@particle/device-os-protobuf 2.9.0 control/config.proto),
/// the one codec the simulated device and the CLI share. Encoding is proto3's canonical form as Device OS's nanopb writes
/// it: zero scalars are left out (so RESET is an empty payload); decoding also takes zeros written out, as protobufjs
/// writes fields that were set explicitly, and skips unknown fields.</summary>
public static class ProtectedStateMessages
{
    /// <summary><c>GetProtectedStateReply { bool state = 1; bool overridden = 2; }</c> (config.proto lines 234-237).</summary>
    public static byte[] EncodeGetReply(bool state, bool overridden)
    {
        var writer = new ProtobufWriter();
        writer.WriteUInt64(1, state ? 1u : 0u);
        writer.WriteUInt64(2, overridden ? 1u : 0u);
        return writer.ToArray();
    }

    public static bool TryDecodeGetReply(ReadOnlySpan<byte> data, out bool state, out bool overridden)
    {
        state = false;
        overridden = false;
        var reader = new ProtobufReader(data);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out var field, out var wireType, out _))
            {
                return false;
            }
            switch (field)
            {
                case 1 when reader.TryReadUInt64(wireType, out var value, out _):
                    state = value != 0;
                    break;
                case 2 when reader.TryReadUInt64(wireType, out var value, out _):
                    overridden = value != 0;
                    break;
                case 1 or 2:
                    return false;
                default:
                    if (!reader.TrySkip(wireType, out _))
                    {
                        return false;
                    }
                    break;
            }
        }
        return true;
    }

    public static byte[] EncodeSetRequest(SetProtectedStateRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var writer = new ProtobufWriter();
        writer.WriteUInt64(1, (ulong)(long)(int)request.Action);
        if (request.ServerNonce is not null)
        {
            var prepare = new ProtobufWriter();
            prepare.WriteOptionalBytes(1, NullIfEmpty(request.ServerNonce));
            writer.WriteMessage(2, prepare.ToArray());
        }
        else if (request.ServerSignature is not null || request.ServerPublicKeyFingerprint is not null)
        {
            var confirm = new ProtobufWriter();
            confirm.WriteOptionalBytes(1, NullIfEmpty(request.ServerSignature));
            confirm.WriteOptionalBytes(2, NullIfEmpty(request.ServerPublicKeyFingerprint));
            writer.WriteMessage(3, confirm.ToArray());
        }
        return writer.ToArray();
    }

    public static bool TryDecodeSetRequest(ReadOnlySpan<byte> data, [NotNullWhen(true)] out SetProtectedStateRequest? request)
    {
        request = null;
        var action = 0L;
        byte[]? nonce = null, signature = null, fingerprint = null;
        var reader = new ProtobufReader(data);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out var field, out var wireType, out _))
            {
                return false;
            }
            switch (field)
            {
                case 1:
                    // int32 enum: a negative value arrives sign-extended to 64 bits.
                    if (!reader.TryReadUInt64(wireType, out var raw, out _))
                    {
                        return false;
                    }
                    action = (int)raw;
                    break;
                case 2:
                    if (!reader.TryReadMessage(wireType, out var prepare, out _) || !TryReadBytesFields(prepare, out var p))
                    {
                        return false;
                    }
                    nonce = p.First ?? [];
                    (signature, fingerprint) = (null, null);
                    break;
                case 3:
                    if (!reader.TryReadMessage(wireType, out var confirm, out _) || !TryReadBytesFields(confirm, out var c))
                    {
                        return false;
                    }
                    (signature, fingerprint) = (c.First ?? [], c.Second ?? []);
                    nonce = null;
                    break;
                default:
                    if (!reader.TrySkip(wireType, out _))
                    {
                        return false;
                    }
                    break;
            }
        }
        request = new SetProtectedStateRequest((ProtectedStateAction)action, nonce, signature, fingerprint);
        return true;
    }

    /// <summary><c>SetProtectedStateReply { optional Prepare prepare = 1; }</c>; null: no prepare (the reply to RESET and CONFIRM).</summary>
    public static byte[] EncodeSetReply(ProtectedStatePrepareReply? prepare)
    {
        var writer = new ProtobufWriter();
        if (prepare is not null)
        {
            var body = new ProtobufWriter();
            body.WriteOptionalBytes(1, NullIfEmpty(prepare.DeviceNonce));
            body.WriteOptionalBytes(2, NullIfEmpty(prepare.DeviceSignature));
            body.WriteOptionalBytes(3, NullIfEmpty(prepare.DevicePublicKeyFingerprint));
            writer.WriteMessage(1, body.ToArray());
        }
        return writer.ToArray();
    }

    /// <summary>Decodes the reply; <paramref name="prepare"/> is null when the reply carried none.</summary>
    public static bool TryDecodeSetReply(ReadOnlySpan<byte> data, out ProtectedStatePrepareReply? prepare)
    {
        prepare = null;
        var reader = new ProtobufReader(data);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out var field, out var wireType, out _))
            {
                return false;
            }
            if (field == 1)
            {
                if (!reader.TryReadMessage(wireType, out var body, out _) || !TryReadBytesFields(body, out var f))
                {
                    return false;
                }
                prepare = new ProtectedStatePrepareReply(f.First, f.Second, f.Third);
            }
            else if (!reader.TrySkip(wireType, out _))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary><c>GetDeviceIdReply { string id = 1; }</c>, the device ID hex-encoded (config.proto lines 49-52).</summary>
    public static byte[] EncodeDeviceIdReply(DeviceId deviceId)
    {
        var writer = new ProtobufWriter();
        writer.WriteOptionalString(1, deviceId.ToString());
        return writer.ToArray();
    }

    /// <summary>The device ID in a <c>GetDeviceIdReply</c> (hex in either case); false when malformed or not a device ID.</summary>
    public static bool TryDecodeDeviceIdReply(ReadOnlySpan<byte> data, out DeviceId deviceId)
    {
        deviceId = default;
        string? id = null;
        var reader = new ProtobufReader(data);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out var field, out var wireType, out _))
            {
                return false;
            }
            if (field == 1)
            {
                if (!reader.TryReadString(wireType, out id, out _))
                {
                    return false;
                }
            }
            else if (!reader.TrySkip(wireType, out _))
            {
                return false;
            }
        }
        return DeviceId.TryParse(id, out deviceId);
    }

    private static byte[]? NullIfEmpty(byte[]? value) => value is { Length: > 0 } ? value : null;

    /// <summary>Fields 1-3 of a nested message whose fields are all <c>bytes</c>; unknown fields skipped.</summary>
    private static bool TryReadBytesFields(ReadOnlySpan<byte> data, out (byte[]? First, byte[]? Second, byte[]? Third) fields)
    {
        fields = default;
        var reader = new ProtobufReader(data);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out var field, out var wireType, out _))
            {
                return false;
            }
            if (field is >= 1 and <= 3)
            {
                // Not TryReadBytes: its 64-byte cap is the Describe's, and a DER signature is up to 72 bytes. The frame bounds the size.
                if (!reader.TryReadMessage(wireType, out var bytes, out _))
                {
                    return false;
                }
                var value = bytes.ToArray();
                switch (field)
                {
                    case 1: fields.First = value; break;
                    case 2: fields.Second = value; break;
                    default: fields.Third = value; break;
                }
            }
            else if (!reader.TrySkip(wireType, out _))
            {
                return false;
            }
        }
        return true;
    }
}
