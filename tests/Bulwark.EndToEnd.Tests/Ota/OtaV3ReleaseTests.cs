using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol.Messages;
using Bulwark.Protocol.Tests.Dtls;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.EndToEnd.Tests.Ota.OtaWaits;

namespace Bulwark.EndToEnd.Tests.Ota;

/// <summary>Releases delivered over OTA v3 through the real gateway to virtual devices that advertise Hello flag 0x80: Gen3
/// devices over UDP/DTLS, and TCP devices told to (where chunk loss is simulated inside the device). Such a device ignores
/// OTA v1 messages, so a new version proves the v3 path.</summary>
public class OtaV3ReleaseTests
{
    private const ushort Argon = 12;

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Bulwark:Ota:RetryBaseSeconds"] = "1",
        ["Bulwark:Ota:AckTimeoutSeconds"] = "1",
    };

    [Fact]
    public async Task A_v3_device_receives_the_product_release_and_reconnects_with_the_new_version()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: Settings);
        var world = await WorldWithVersions1And2Async(server);
        var device = await world.AddDeviceAsync(configure: o => o with { OtaProtocolV3 = true });
        await device.ConnectAsync();

        await world.PutAsync("firmware/release", new { version = 2, product_default = true, intelligent = true });
        await WaitForVersionAsync(device, 2);
        var done = await WaitForAsync(() => world.FirmwareUpdateAsync(device), s => s?.GetProperty("status").GetString() == "success");
        Assert.Equal(2, done!.Value.GetProperty("version").GetInt32());
        Assert.Equal(0, device.FirmwareUpdate.ReceivedChunkCount);
        await device.DisposeAsync();
    }

    [Fact]
    public async Task Chunks_lost_on_the_way_are_reported_missing_by_the_device_and_sent_again()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: Settings);
        var world = await WorldWithVersions1And2Async(server);
        // Every seventh chunk, and the last one (index 80 of a ~40 KB image in 512-byte chunks), is lost the first time.
        var lost = new HashSet<uint>();
        var device = await world.AddDeviceAsync(configure: o => o with
        {
            OtaProtocolV3 = true,
            LoseOtaChunk = index => (index % 7 == 3 || index >= 79) && lost.Add(index),
        });
        await device.ConnectAsync();

        await world.PutAsync("firmware/release", new { version = 2, product_default = true, intelligent = true });
        await WaitForVersionAsync(device, 2);
        await WaitForAsync(() => world.FirmwareUpdateAsync(device), s => s?.GetProperty("status").GetString() == "success");
        Assert.True(lost.Count >= 11, $"only {lost.Count} chunks were dropped");
        Assert.Contains(3u, lost);
        await device.DisposeAsync();
    }

    [Fact]
    public async Task A_gen3_device_over_UDP_gets_the_release_by_OTA_v3_restores_its_session_and_says_Hello_with_the_new_version()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: Settings);
        var world = await WorldWithVersions1And2Async(server, Argon);
        await using var device = await world.AddDeviceAsync(configure: o => o with { NotificationCapacity = 256 }, transport: DeviceTransport.Udp);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await device.ConnectAsync();
        var first = await device.WaitForAsync<DeviceConnected>(cancellationToken: timeout.Token);
        Assert.False(first.SessionResumed);
        Assert.True(first.Hello.Flags.HasFlag(HelloFlags.OtaProtocolV3));

        await world.PutAsync("firmware/release", new { version = 2, product_default = true, intelligent = true });
        await ReconnectsAfterTheUpdateAsync(world, device, timeout.Token);
    }

    [Fact]
    public async Task Over_a_lossy_UDP_path_a_gen3_device_still_gets_the_release_once_and_the_update_is_settled()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: Settings);
        var world = await WorldWithVersions1And2Async(server, Argon);
        await using var proxy = new LossyUdpProxy(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, server.UdpGatewayPort), dropRate: 0.05, reorderRate: 0.1, seed: 3);
        await using var device = await world.AddDeviceAsync(transport: DeviceTransport.Udp, udpPort: proxy.EndPoint.Port, configure: o => o with
        {
            NotificationCapacity = 256,
            DtlsRetransmitTimeout = TimeSpan.FromMilliseconds(500),
            CoapOptions = new Bulwark.Protocol.Coap.CoapDatagramOptions { AckTimeout = TimeSpan.FromMilliseconds(500), MaxRetransmit = 8 },
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await device.ConnectAsync(timeout.Token);
        await device.WaitForAsync<DeviceConnected>(cancellationToken: timeout.Token);

        await world.PutAsync("firmware/release", new { version = 2, product_default = true, intelligent = true });
        await ReconnectsAfterTheUpdateAsync(world, device, timeout.Token);
        Assert.True(proxy.Dropped > 0, "the proxy dropped nothing; the test proves nothing");
    }

    /// <summary>A product with firmware 1, which its devices run, and a 40 KB firmware 2 to release.</summary>
    private static async Task<OtaWorld> WorldWithVersions1And2Async(BulwarkTestServer server, ushort platformId = 6)
    {
        var world = await OtaWorld.CreateAsync(server, platformId);
        await world.UploadAsync(1);
        await world.UploadAsync(2, dataSize: 40_000);
        return world;
    }

    /// <summary>The device applies version 2 once, reboots, restores its DTLS session (no handshake) and sends a fresh Hello
    /// with the new version, which the cloud records and settles the update on.</summary>
    private static async Task ReconnectsAfterTheUpdateAsync(OtaWorld world, VirtualDevice device, CancellationToken cancellationToken)
    {
        var applied = await device.WaitForAsync<FirmwareUpdateApplied>(cancellationToken: cancellationToken);
        Assert.Equal(2, applied.ProductFirmwareVersion);
        var again = await device.WaitForAsync<DeviceConnected>(cancellationToken: cancellationToken);
        Assert.True(again.SessionResumed, "the device made a new handshake after the update");
        Assert.False(again.HelloSkipped, "the device skipped its Hello although its firmware changed");
        Assert.Equal(2, again.Hello.ProductFirmwareVersion);

        var done = await WaitForAsync(() => world.FirmwareUpdateAsync(device), s => s?.GetProperty("status").GetString() == "success");
        Assert.Equal(2, done!.Value.GetProperty("version").GetInt32());
        var info = await WaitForAsync(() => world.GetAsync($"devices/{device.Id}"), d => d.GetProperty("online").GetBoolean());
        Assert.Equal(2, info.GetProperty("firmware_version").GetInt32());
        Assert.Equal(2, device.ProductFirmwareVersion);
        Assert.True(device.IsConnected);
    }
}
