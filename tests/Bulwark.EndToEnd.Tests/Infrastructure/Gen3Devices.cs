using System.Net.Http.Json;
using System.Security.Cryptography;
using Bulwark.DeviceSim.Devices;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.Infrastructure;

/// <summary>bulwark-sim devices speaking Gen3 UDP/DTLS to a test server: the server's EC key from the API, the device's
/// EC key registered as a Gen3 device's is, and the options that point a <see cref="VirtualDevice"/> at the UDP listener.</summary>
internal static class Gen3Devices
{
    /// <summary>The server's UDP key (SubjectPublicKeyInfo DER) from <c>GET /v1/keys/server?protocol=udp</c>, what a Gen3
    /// device holds in its DCT.</summary>
    public static async Task<byte[]> ServerEcKeyAsync(HttpClient client)
    {
        using var serverKey = ECDsa.Create();
        serverKey.ImportFromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=udp"))).GetProperty("public_key").GetString()!);
        return serverKey.ExportSubjectPublicKeyInfo();
    }

    /// <summary>Registers the identity's EC key (<c>algorithm: "ecc"</c>), the only key a Gen3 device has.</summary>
    public static async Task ProvisionEcKeyAsync(HttpClient client, DeviceIdentity identity) =>
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/provisioning/{identity.Id}", new { publicKey = identity.GetEcPublicKeyPem(), algorithm = "ecc" }));

    /// <summary>The identity's EC key as an <see cref="ECDsa"/> (the caller disposes it), e.g. for Device Protection, which
    /// signs with the same key the device's DTLS handshake uses.</summary>
    public static ECDsa OpenEcKey(DeviceIdentity identity)
    {
        var key = ECDsa.Create();
        key.ImportECPrivateKey(identity.EcPrivateKeyDer, out _);
        return key;
    }

    /// <summary>The options with UDP transport and the server's EC key (such a device advertises OTA v3).</summary>
    public static VirtualDeviceOptions OverUdp(this VirtualDeviceOptions options, byte[] serverEcKey) =>
        options with { Transport = DeviceTransport.Udp, ServerEcPublicKey = serverEcKey };

    /// <summary>A device on the server's UDP listener.</summary>
    public static VirtualDevice Create(BulwarkTestServer server, DeviceIdentity identity, VirtualDeviceOptions options) =>
        new(identity, serverKey: null, "127.0.0.1", server.UdpGatewayPort, options);
}
