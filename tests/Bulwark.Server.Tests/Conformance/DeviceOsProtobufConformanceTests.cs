using System.Security.Cryptography;
using System.Text.Json;
using Bulwark.Protocol;
using Bulwark.Protocol.LocalControl;
using Bulwark.Server.Tests.Infrastructure;

namespace Bulwark.Server.Tests.Conformance;

/// <summary>Bulwark's local control codec (Bulwark.Protocol.LocalControl, shared by bulwark-sim and the CLI) against
/// @particle/device-os-protobuf 2.9.0, the package particle-cli drives Device OS with: the same request type ids, the same
/// bytes for the same messages (random nonces, signature and fingerprint each run), and the package decoding Bulwark's
/// bytes back to the same fields. Script: tests/conformance/device-os-protobuf/protected-state.mjs.</summary>
public class DeviceOsProtobufConformanceTests
{
    [Fact]
    public async Task Device_protection_control_requests_encode_as_device_os_protobuf_does()
    {
        NodeTools.RequireInstalled();
        var nonce = RandomNumberGenerator.GetBytes(32);
        var signature = RandomNumberGenerator.GetBytes(RandomNumberGenerator.GetInt32(70, 73));
        var fingerprint = RandomNumberGenerator.GetBytes(32);
        var deviceId = DeviceId.FromBytes(RandomNumberGenerator.GetBytes(DeviceId.Length));
        var ours = new Dictionary<string, byte[]>
        {
            ["getReplyProtected"] = ProtectedStateMessages.EncodeGetReply(true, false),
            ["getReplyServiceMode"] = ProtectedStateMessages.EncodeGetReply(true, true),
            ["reset"] = ProtectedStateMessages.EncodeSetRequest(SetProtectedStateRequest.Reset()),
            ["prepare"] = ProtectedStateMessages.EncodeSetRequest(SetProtectedStateRequest.Prepare(nonce)),
            ["confirm"] = ProtectedStateMessages.EncodeSetRequest(SetProtectedStateRequest.Confirm(signature, fingerprint)),
            ["prepareReply"] = ProtectedStateMessages.EncodeSetReply(new ProtectedStatePrepareReply(nonce, signature, fingerprint)),
            ["emptyPrepareReply"] = ProtectedStateMessages.EncodeSetReply(ProtectedStatePrepareReply.Empty),
            ["deviceIdReply"] = ProtectedStateMessages.EncodeDeviceIdReply(deviceId),
        };
        var input = JsonSerializer.Serialize(new
        {
            nonce = Hex(nonce),
            signature = Hex(signature),
            fingerprint = Hex(fingerprint),
            deviceId = deviceId.ToString(),
            bulwark = ours.ToDictionary(p => p.Key, p => Hex(p.Value)),
        });

        var result = await NodeTools.RunAsync("node", [Path.Combine(NodeTools.ConformanceDirectory, "device-os-protobuf", "protected-state.mjs")],
            NodeTools.ConformanceDirectory, stdin: input);
        Assert.True(result.ExitCode == 0, result.Output);
        var json = result.Output.Split('\n').Last(l => l.StartsWith('{'));
        var package = JsonDocument.Parse(json).RootElement;

        var typeIds = package.GetProperty("typeIds");
        Assert.Equal(ControlRequestType.DeviceId, typeIds.GetProperty("GetDeviceIdRequest").GetInt32());
        Assert.Equal(ControlRequestType.GetProtectedState, typeIds.GetProperty("GetProtectedStateRequest").GetInt32());
        Assert.Equal(ControlRequestType.SetProtectedState, typeIds.GetProperty("SetProtectedStateRequest").GetInt32());
        var actions = package.GetProperty("actions");
        Assert.Equal((int)ProtectedStateAction.Reset, actions.GetProperty("RESET").GetInt32());
        Assert.Equal((int)ProtectedStateAction.Prepare, actions.GetProperty("PREPARE").GetInt32());
        Assert.Equal((int)ProtectedStateAction.Confirm, actions.GetProperty("CONFIRM").GetInt32());

        // Byte for byte: the package's encoding of each message is ours.
        var encoded = package.GetProperty("encoded");
        foreach (var (name, bytes) in ours)
        {
            Assert.True(encoded.GetProperty(name).GetString() == Hex(bytes), $"{name}: device-os-protobuf {encoded.GetProperty(name)}, Bulwark {Hex(bytes)}");
        }

        // And ours decodes what particle-cli sends, including RESET with the zero written out.
        Assert.True(ProtectedStateMessages.TryDecodeSetRequest(Convert.FromHexString(encoded.GetProperty("resetExplicit").GetString()!), out var reset));
        Assert.Equal(ProtectedStateAction.Reset, reset.Action);
        Assert.True(ProtectedStateMessages.TryDecodeSetRequest(Convert.FromHexString(encoded.GetProperty("confirm").GetString()!), out var confirm));
        Assert.Equal(signature, confirm.ServerSignature);
        Assert.Equal(fingerprint, confirm.ServerPublicKeyFingerprint);

        // The package reads our bytes as the fields we meant.
        var decoded = package.GetProperty("decoded");
        Assert.True(decoded.GetProperty("getReplyServiceMode").GetProperty("state").GetBoolean());
        Assert.True(decoded.GetProperty("getReplyServiceMode").GetProperty("overridden").GetBoolean());
        Assert.Equal(1, decoded.GetProperty("prepare").GetProperty("action").GetInt32());
        Assert.Equal(Hex(nonce), decoded.GetProperty("prepare").GetProperty("prepare").GetProperty("serverNonce").GetString());
        Assert.Equal(2, decoded.GetProperty("confirm").GetProperty("action").GetInt32());
        Assert.Equal(Hex(signature), decoded.GetProperty("confirm").GetProperty("confirm").GetProperty("serverSignature").GetString());
        Assert.Equal(Hex(fingerprint), decoded.GetProperty("confirm").GetProperty("confirm").GetProperty("serverPublicKeyFingerprint").GetString());
        Assert.False(decoded.GetProperty("reset").TryGetProperty("action", out _)); // RESET is the default: nothing on the wire
        var prepareReply = decoded.GetProperty("prepareReply").GetProperty("prepare");
        Assert.Equal(Hex(nonce), prepareReply.GetProperty("deviceNonce").GetString());
        Assert.Equal(Hex(signature), prepareReply.GetProperty("deviceSignature").GetString());
        Assert.Equal(Hex(fingerprint), prepareReply.GetProperty("devicePublicKeyFingerprint").GetString());
        Assert.Equal(deviceId.ToString(), decoded.GetProperty("deviceIdReply").GetProperty("id").GetString());
    }

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
