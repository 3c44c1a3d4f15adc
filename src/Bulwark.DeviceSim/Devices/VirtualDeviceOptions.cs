using Bulwark.Protocol;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Devices;

/// <summary>Which Particle transport a <see cref="VirtualDevice"/> speaks.</summary>
public enum DeviceTransport
{
    /// <summary>Gen2: TCP port 5683, RSA handshake, AES-CBC frames (device-protocol.md 1).</summary>
    Tcp,
    /// <summary>Gen3: UDP port 5684, DTLS 1.2 with EC P-256 keys and a connection ID, CoAP with retransmission (device-protocol.md 2).</summary>
    Udp,
}

/// <summary>How a <see cref="VirtualDevice"/> presents itself and times its protocol; defaults are a Device OS 6.2 gcc build.</summary>
public sealed record VirtualDeviceOptions
{
    /// <summary>Hello flags the gcc build sends (diagnostics, immediate updates, Goodbye, device-initiated Describe).</summary>
    public const HelloFlags DeviceOsHelloFlags = (HelloFlags)0x36;

    /// <summary>Platform 6 is the Photon, a Gen2 device on the TCP protocol.</summary>
    public ushort PlatformId { get; init; } = 6;

    /// <summary>Product ID sent in Hello; Device OS uses the platform ID when the firmware declares no product.</summary>
    public ushort? ProductId { get; init; }

    public ushort ProductFirmwareVersion { get; init; } = 1;

    /// <summary>Device OS version as a module version (6200 = 6.2.0).</summary>
    public ushort SystemVersion { get; init; } = 6200;

    public HelloFlags HelloFlags { get; init; } = DeviceOsHelloFlags;

    public ushort MaxMessageSize { get; init; } = 1152;

    public uint MaxBinarySize { get; init; } = 10 * 1024 * 1024;

    public ushort OtaChunkSize { get; init; } = 512;

    /// <summary>Speak OTA v3 (UpdateStart/UpdateChunk/UpdateFinish) instead of v1 and say so with Hello flag 0x80, as Gen3
    /// builds do; off for the gcc (Gen2) build.</summary>
    public bool OtaProtocolV3 { get; init; }

    /// <summary>Simulated loss: an OTA v3 UpdateChunk whose index this returns true for never reaches the device. Called
    /// once per arriving chunk, so a test can lose a chunk only the first time.</summary>
    public Func<uint, bool>? LoseOtaChunk { get; init; }

    /// <summary>Version of the user-part module reported in Describe (not the product firmware version).</summary>
    public ushort UserModuleVersion { get; init; } = 6;

    /// <summary>Version of the bootloader module reported in Describe (the system part depends on it).</summary>
    public ushort BootloaderVersion { get; init; } = 3000;

    /// <summary>Device Protection: the bootloader reports security mode PROTECTED and the Describe protected_state.</summary>
    public bool Protected { get; init; }

    /// <summary>Device Protection on the device side (its EC key and the server EC key it holds); null: no local control
    /// channel and protection only as <see cref="Protected"/> reports it.</summary>
    public Protection.DeviceProtectionState? Protection { get; init; }

    /// <summary>Opens the local control channel (simulated USB, see <see cref="Protection.LocalControlServer"/>) on
    /// 127.0.0.1 at this port when the device is created (0 picks a free port, see
    /// <see cref="VirtualDevice.LocalControlEndPoint"/>); null: no channel.</summary>
    public int? LocalControlPort { get; init; }

    /// <summary>Gen2 TCP (the default, and what every platform here speaks) or Gen3 UDP/DTLS, which needs the identity's
    /// EC key and <see cref="ServerEcPublicKey"/>.</summary>
    public DeviceTransport Transport { get; init; } = DeviceTransport.Tcp;

    /// <summary>UDP: the server's EC P-256 public key as SubjectPublicKeyInfo DER (91 bytes), what a Gen3 device holds in
    /// flash (<c>GET /v1/keys/server?protocol=udp</c> gives its PEM).</summary>
    public ReadOnlyMemory<byte> ServerEcPublicKey { get; init; }

    /// <summary>UDP: keep the DTLS session after a connection and resume it next time with no handshake (and no Hello
    /// when nothing changed), as Device OS does. False forces a full handshake every time.</summary>
    public bool ResumeSessions { get; init; } = true;

    /// <summary>UDP: the first DTLS handshake retransmission (Device OS: 3 s, doubling up to 24 s).</summary>
    public TimeSpan DtlsRetransmitTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>UDP: CoAP reliability (ACK timeout, retransmissions). A resumed session the server no longer knows is
    /// given up once these run out, then the device runs a full handshake.</summary>
    public CoapDatagramOptions CoapOptions { get; init; } = new();

    /// <summary>The device waits 20 s for the nonce; the whole handshake is bounded by this.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>TCP devices insist on the server's Hello within 4 s of their own.</summary>
    public TimeSpan ServerHelloTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Ping this long after the last message received (<c>initialize_ping(15000, 10000)</c>); null disables pings.</summary>
    public TimeSpan? PingInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Drop the connection when nothing arrives this long after a ping.</summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Send the post-Hello sequence Device OS sends (system Describe, time, update events, app Describe, system subscriptions).</summary>
    public bool SendStartupSequence { get; init; } = true;

    /// <summary>Notifications kept for <see cref="VirtualDevice.Notifications"/> (oldest dropped first); 0 keeps none, for fleets.</summary>
    public int NotificationCapacity { get; init; } = 1024;

    /// <summary>Reconnect by itself when the connection drops (not after <see cref="VirtualDevice.DisconnectAsync"/>).</summary>
    public bool AutoReconnect { get; init; }

    /// <summary>Pause before an automatic reconnect.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    internal HelloPayload CreateHello(ushort productFirmwareVersion, ushort systemVersion) => new(
        ProductId ?? PlatformId,
        productFirmwareVersion,
        OtaProtocolV3 ? HelloFlags | HelloFlags.OtaProtocolV3 : HelloFlags,
        PlatformId,
        DeviceId: null,
        systemVersion,
        MaxMessageSize,
        MaxBinarySize,
        OtaChunkSize);
}
