using System.Net.Http.Json;
using System.Security.Cryptography;
using Bulwark.Protocol.Dtls;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.Gateway.Udp;

/// <summary>The server's UDP listener and the DTLS client over loopback, keys from the real API.</summary>
public class UdpGatewayTests
{
    [Fact]
    public async Task A_provisioned_gen3_device_completes_the_dtls_handshake_and_a_stranger_does_not()
    {
        await using var server = await StartAsync(settings: new Dictionary<string, string?>
        {
            ["Bulwark:Gateway:UdpEnabled"] = "true",
            ["Bulwark:Gateway:UdpPort"] = "0",
        });
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        using var serverKey = ECDsa.Create();
        serverKey.ImportFromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=udp"))).GetProperty("public_key").GetString()!);

        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string id = Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = deviceKey.ExportSubjectPublicKeyInfoPem(), algorithm = "ecc" }));

        DtlsServer udp = server.UdpGateway;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using (var device = new DtlsClient(deviceKey, serverKey, udp.LocalEndPoint, new DtlsClientOptions { InitialRetransmitTimeout = TimeSpan.FromMilliseconds(300) }))
        {
            await device.ConnectAsync(timeout.Token);
            Assert.Equal(id, udp.FindSession(device.ConnectionId)!.RegisteredKey!.DeviceId);
        }

        using var strangerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await using var stranger = new DtlsClient(strangerKey, serverKey, udp.LocalEndPoint, new DtlsClientOptions { InitialRetransmitTimeout = TimeSpan.FromMilliseconds(300) });
        using var shortWait = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stranger.ConnectAsync(shortWait.Token));
        Assert.Equal(1, udp.SessionCount);
    }
}
