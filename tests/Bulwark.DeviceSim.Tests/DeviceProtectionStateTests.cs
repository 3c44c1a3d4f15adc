using System.Security.Cryptography;
using Bulwark.DeviceSim.Protection;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.LocalControl;

namespace Bulwark.DeviceSim.Tests;

/// <summary>The simulated device's protection gate and unlock exchange, driven as particle-cli drives a real device.</summary>
public class DeviceProtectionStateTests
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly DeviceId Id = DeviceId.Parse("e00fce68b3a1c2d4e5f60718");

    [Fact]
    public void Protected_device_refuses_local_control_until_service_mode_and_returns_on_reset()
    {
        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var clock = new Clock();
        var device = new DeviceProtectionState(Id, deviceKey, serverKey.ExportSubjectPublicKeyInfo(), clock);

        Assert.True(device.HandleControlRequest(30, []).Ok);
        device.ApplyProtectedBootloader();
        Assert.Equal(SystemError.Protected, device.HandleControlRequest(30, []).Result);
        var idReply = device.HandleControlRequest(ControlRequestType.DeviceId, []);
        Assert.True(idReply.Ok);
        Assert.True(ProtectedStateMessages.TryDecodeDeviceIdReply(idReply.Payload, out var reportedId));
        Assert.Equal(Id, reportedId);
        Assert.Equal((true, false), State(device));

        Unlock(device, deviceKey, serverKey, clock, TimeSpan.FromSeconds(10), expected: SystemError.None);
        Assert.True(device.InServiceMode);
        Assert.True(device.HandleControlRequest(30, []).Ok);
        Assert.Equal((true, true), State(device));

        Assert.True(device.HandleControlRequest(ControlRequestType.SetProtectedState, ProtectedStateMessages.EncodeSetRequest(SetProtectedStateRequest.Reset())).Ok);
        Assert.Equal(SystemError.Protected, device.HandleControlRequest(30, []).Result);
    }

    [Fact]
    public void Service_mode_ends_after_20_resets_or_24_hours()
    {
        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var clock = new Clock();
        var device = new DeviceProtectionState(Id, deviceKey, serverKey.ExportSubjectPublicKeyInfo(), clock, isProtected: true);
        Unlock(device, deviceKey, serverKey, clock, TimeSpan.Zero, SystemError.None);
        for (var i = 0; i < 19; i++)
        {
            device.OnReset();
        }
        Assert.True(device.InServiceMode);
        device.OnReset();
        Assert.False(device.InServiceMode);

        Unlock(device, deviceKey, serverKey, clock, TimeSpan.Zero, SystemError.None);
        clock.Now += TimeSpan.FromHours(24);
        Assert.False(device.InServiceMode);
    }

    [Fact]
    public void Confirm_is_refused_late_with_another_server_key_or_a_bad_signature()
    {
        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var clock = new Clock();
        var device = new DeviceProtectionState(Id, deviceKey, serverKey.ExportSubjectPublicKeyInfo(), clock, isProtected: true);
        Unlock(device, deviceKey, serverKey, clock, TimeSpan.FromSeconds(61), SystemError.Timeout);
        Unlock(device, deviceKey, otherKey, clock, TimeSpan.Zero, SystemError.KeyMismatch);
        Unlock(device, deviceKey, serverKey, clock, TimeSpan.Zero, SystemError.InvalidSignature, signWith: otherKey);
        Assert.False(device.InServiceMode);
    }

    private static (bool State, bool Overridden) State(DeviceProtectionState device)
    {
        Assert.True(ProtectedStateMessages.TryDecodeGetReply(device.HandleControlRequest(ControlRequestType.GetProtectedState, []).Payload,
            out var state, out var overridden));
        return (state, overridden);
    }

    /// <summary>PREPARE, the cloud's part (as ServiceModeAuthorizer signs), then CONFIRM after <paramref name="delay"/>.</summary>
    private static void Unlock(DeviceProtectionState device, ECDsa deviceKey, ECDsa serverKey, Clock clock, TimeSpan delay, int expected, ECDsa? signWith = null)
    {
        var serverNonce = RandomNumberGenerator.GetBytes(32);
        var prepared = device.HandleControlRequest(ControlRequestType.SetProtectedState, ProtectedStateMessages.EncodeSetRequest(SetProtectedStateRequest.Prepare(serverNonce)));
        Assert.True(prepared.Ok);
        Assert.True(ProtectedStateMessages.TryDecodeSetReply(prepared.Payload, out var reply));
        Assert.NotNull(reply);
        var idBytes = Id.ToArray();
        Assert.True(ServiceModeSignatures.Verify(deviceKey, ServiceModeSignatures.DeviceHash(idBytes, reply.DeviceNonce!, serverNonce), reply.DeviceSignature!));
        Assert.Equal(ServiceModeSignatures.Fingerprint(deviceKey), reply.DevicePublicKeyFingerprint);
        var signature = ServiceModeSignatures.Sign(signWith ?? serverKey,
            ServiceModeSignatures.ServerHash(idBytes, serverNonce, reply.DeviceNonce!, reply.DevicePublicKeyFingerprint!));
        clock.Now += delay;
        var confirmed = device.HandleControlRequest(ControlRequestType.SetProtectedState,
            ProtectedStateMessages.EncodeSetRequest(SetProtectedStateRequest.Confirm(signature, ServiceModeSignatures.Fingerprint(serverKey))));
        Assert.Equal(expected, confirmed.Result);
    }
}
