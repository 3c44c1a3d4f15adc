using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.EndToEnd.Tests.Ota.OtaWaits;

namespace Bulwark.EndToEnd.Tests.Ota;

/// <summary>Releases delivered over OTA v3 through the real gateway to virtual devices that advertise Hello flag 0x80 (over
/// TCP for now). Such a device ignores OTA v1 messages, so a new version proves the v3 path.</summary>
public class OtaV3ReleaseTests
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Bulwark:Ota:RetryBaseSeconds"] = "1",
        ["Bulwark:Ota:AckTimeoutSeconds"] = "1",
    };

    [Fact]
    public async Task A_v3_device_receives_the_product_release_and_reconnects_with_the_new_version()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: Settings);
        var world = await OtaWorld.CreateAsync(server);
        await world.UploadAsync(1);
        await world.UploadAsync(2, dataSize: 40_000);
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
        var world = await OtaWorld.CreateAsync(server);
        await world.UploadAsync(1);
        await world.UploadAsync(2, dataSize: 40_000);
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
}
