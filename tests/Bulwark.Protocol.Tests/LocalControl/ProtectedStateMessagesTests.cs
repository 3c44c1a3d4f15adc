using Bulwark.Protocol.LocalControl;

namespace Bulwark.Protocol.Tests.LocalControl;

/// <summary>The Device Protection control requests against @particle/device-os-protobuf 2.9.0 control/config.proto. The
/// expected bytes were produced by that package (<c>DeviceOSProtobuf.encode(name, data)</c>, protobufjs static code, zero
/// fields left unset); Bulwark.Server.Tests' DeviceOsProtobufConformanceTests re-derives them from the installed package.</summary>
public class ProtectedStateMessagesTests
{
    // Fixed inputs: nonce 00..1f, a 72-byte "DER signature" 80..c7 (longest P-256 DER), fingerprint e0 down to c1.
    private static readonly byte[] Nonce = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];
    private static readonly byte[] Signature = [.. Enumerable.Range(0, 72).Select(i => (byte)(0x80 + i))];
    private static readonly byte[] Fingerprint = [.. Enumerable.Range(0, 32).Select(i => (byte)(0xE0 - i))];

    // config.proto:46, :231, :240: option (type_id) = 20 / 76 / 77.
    [Fact]
    public void Request_types_are_the_proto_type_ids()
    {
        Assert.Equal(20, ControlRequestType.DeviceId);
        Assert.Equal(76, ControlRequestType.GetProtectedState);
        Assert.Equal(77, ControlRequestType.SetProtectedState);
        Assert.Equal([0, 1, 2], Enum.GetValues<ProtectedStateAction>().Select(a => (int)a));
    }

    // config.proto:234-237 GetProtectedStateReply { bool state = 1; bool overridden = 2; }
    [Theory]
    [InlineData(true, true, "08011001")]
    [InlineData(true, false, "0801")]
    [InlineData(false, false, "")]
    public void GetProtectedStateReply_matches_protobufjs(bool state, bool overridden, string hex)
    {
        Assert.Equal(hex, Convert.ToHexStringLower(ProtectedStateMessages.EncodeGetReply(state, overridden)));
        Assert.True(ProtectedStateMessages.TryDecodeGetReply(Convert.FromHexString(hex), out var s, out var o));
        Assert.Equal((state, overridden), (s, o));
    }

    // config.proto:239-264 SetProtectedStateRequest { Action action = 1; oneof data { Prepare prepare = 2; Confirm confirm = 3; } },
    // Prepare { bytes server_nonce = 1; }, Confirm { bytes server_signature = 1; bytes server_public_key_fingerprint = 2; }
    [Fact]
    public void SetProtectedStateRequest_matches_protobufjs()
    {
        Assert.Empty(ProtectedStateMessages.EncodeSetRequest(SetProtectedStateRequest.Reset()));
        var prepare = "080112220a20" + Convert.ToHexStringLower(Nonce);
        Assert.Equal(prepare, Convert.ToHexStringLower(ProtectedStateMessages.EncodeSetRequest(SetProtectedStateRequest.Prepare(Nonce))));
        var confirm = "08021a6c0a48" + Convert.ToHexStringLower(Signature) + "1220" + Convert.ToHexStringLower(Fingerprint);
        Assert.Equal(confirm, Convert.ToHexStringLower(ProtectedStateMessages.EncodeSetRequest(SetProtectedStateRequest.Confirm(Signature, Fingerprint))));

        Assert.True(ProtectedStateMessages.TryDecodeSetRequest(Convert.FromHexString(prepare), out var p));
        Assert.Equal(ProtectedStateAction.Prepare, p.Action);
        Assert.Equal(Nonce, p.ServerNonce);
        Assert.Null(p.ServerSignature);
        Assert.True(ProtectedStateMessages.TryDecodeSetRequest(Convert.FromHexString(confirm), out var c));
        Assert.Equal(ProtectedStateAction.Confirm, c.Action);
        Assert.Equal(Signature, c.ServerSignature);
        Assert.Equal(Fingerprint, c.ServerPublicKeyFingerprint);
        Assert.Null(c.ServerNonce);
    }

    [Fact]
    public void SetProtectedStateRequest_decodes_what_particle_cli_sends_for_reset_and_refuses_garbage()
    {
        // particle-cli sets action: RESET explicitly, so protobufjs writes the zero: 08 00.
        Assert.True(ProtectedStateMessages.TryDecodeSetRequest([0x08, 0x00], out var reset));
        Assert.Equal(ProtectedStateAction.Reset, reset.Action);
        Assert.True(ProtectedStateMessages.TryDecodeSetRequest([], out var empty));
        Assert.Equal(ProtectedStateAction.Reset, empty.Action);
        // An unknown field (9, varint) is skipped; an unnamed action value is kept for the device to refuse.
        Assert.True(ProtectedStateMessages.TryDecodeSetRequest([0x48, 0x05, 0x08, 0x07], out var unknown));
        Assert.Equal(7, (int)unknown.Action);
        Assert.False(ProtectedStateMessages.TryDecodeSetRequest([0x12, 0x22, 0x0a], out _)); // prepare longer than the input
        Assert.False(ProtectedStateMessages.TryDecodeSetRequest([0x0a, 0x01, 0x00], out _)); // action as bytes
        Assert.False(ProtectedStateMessages.TryDecodeSetRequest([0x08], out _));
    }

    // config.proto:266-274 SetProtectedStateReply { optional Prepare prepare = 1; }, Prepare { bytes device_nonce = 1;
    // bytes device_signature = 2; bytes device_public_key_fingerprint = 3; }
    [Fact]
    public void SetProtectedStateReply_matches_protobufjs()
    {
        var full = "0a8e010a20" + Convert.ToHexStringLower(Nonce) + "1248" + Convert.ToHexStringLower(Signature) + "1a20" + Convert.ToHexStringLower(Fingerprint);
        Assert.Equal(full, Convert.ToHexStringLower(ProtectedStateMessages.EncodeSetReply(new ProtectedStatePrepareReply(Nonce, Signature, Fingerprint))));
        Assert.Equal("0a00", Convert.ToHexStringLower(ProtectedStateMessages.EncodeSetReply(ProtectedStatePrepareReply.Empty)));
        Assert.Empty(ProtectedStateMessages.EncodeSetReply(null));

        Assert.True(ProtectedStateMessages.TryDecodeSetReply(Convert.FromHexString(full), out var reply));
        Assert.Equal(Nonce, reply!.DeviceNonce);
        Assert.Equal(Signature, reply.DeviceSignature);
        Assert.Equal(Fingerprint, reply.DevicePublicKeyFingerprint);
        Assert.True(ProtectedStateMessages.TryDecodeSetReply([0x0a, 0x00], out var emptyPrepare));
        Assert.Equal(ProtectedStatePrepareReply.Empty, emptyPrepare);
        Assert.True(ProtectedStateMessages.TryDecodeSetReply([], out var none));
        Assert.Null(none);
    }

    // config.proto:49-52 GetDeviceIdReply { string id = 1; } "Device ID (hex-encoded)"
    [Fact]
    public void GetDeviceIdReply_is_the_hex_id_as_a_string()
    {
        var id = DeviceId.Parse("e00fce68b3a1c2d4e5f60718");
        const string hex = "0a18653030666365363862336131633264346535663630373138";
        Assert.Equal(hex, Convert.ToHexStringLower(ProtectedStateMessages.EncodeDeviceIdReply(id)));
        Assert.True(ProtectedStateMessages.TryDecodeDeviceIdReply(Convert.FromHexString(hex), out var decoded));
        Assert.Equal(id, decoded);
        Assert.False(ProtectedStateMessages.TryDecodeDeviceIdReply(id.ToArray(), out _)); // the 12 raw bytes are not the reply
    }
}
