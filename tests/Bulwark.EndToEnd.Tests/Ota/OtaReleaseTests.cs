using System.Globalization;
using System.Net.Http.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.Firmware;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.EndToEnd.Tests.Ota.OtaWaits;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.Ota;

/// <summary>Releases delivered over OTA v1 to bulwark-sim virtual devices through the real gateway.</summary>
public class OtaReleaseTests
{
    [Fact]
    public async Task Group_release_moves_only_that_group_product_default_moves_the_rest_locked_and_development_stay()
    {
        await using var server = await StartAsync(settings: new Dictionary<string, string?> { ["Bulwark:Ota:RetryBaseSeconds"] = "1" });
        var world = await OtaWorld.CreateAsync(server);
        foreach (var v in new[] { 1, 2, 3 })
        {
            await world.UploadAsync(v);
        }
        await world.PostAsync("groups", new { name = "beta" });
        var grouped = await world.AddDeviceAsync();
        var plain = await world.AddDeviceAsync();
        var locked = await world.AddDeviceAsync();
        var development = await world.AddDeviceAsync();
        await world.PutDeviceAsync(grouped, new { groups = new[] { "beta" } });
        await world.PutDeviceAsync(locked, new { desired_firmware_version = 1 });
        await world.PutDeviceAsync(development, new { development = true });
        var devices = new[] { grouped, plain, locked, development };
        foreach (var d in devices)
        {
            await d.ConnectAsync();
        }

        var impact = await world.GetAsync("impact?action=edit_groups_for_firmware&firmware_version=2&groups=beta");
        Assert.Equal(1, impact.GetProperty("devices").GetProperty("firmware_update").GetProperty("total").GetInt32());
        await world.PutAsync("firmware/release", new { version = 2, groups = new[] { "beta" }, intelligent = true });
        await WaitForVersionAsync(grouped, 2);

        impact = await world.GetAsync("impact?action=edit_groups_for_firmware&firmware_version=3&product_default=true");
        Assert.Equal(1, impact.GetProperty("devices").GetProperty("firmware_update").GetProperty("total").GetInt32());
        await world.PutAsync("firmware/release", new { version = 3, product_default = true, intelligent = true });
        await WaitForVersionAsync(plain, 3);

        // A later reconnect re-evaluates everyone: nothing else moves.
        foreach (var d in new[] { locked, development, grouped })
        {
            await d.DisconnectAsync();
            await d.ConnectAsync();
        }
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(2, grouped.ProductFirmwareVersion);
        Assert.Equal(1, locked.ProductFirmwareVersion);
        Assert.Equal(1, development.ProductFirmwareVersion);
        Assert.Equal("success", (await WaitForAsync(() => world.FirmwareUpdateAsync(grouped), s => s?.GetProperty("status").GetString() == "success"))!.Value.GetProperty("status").GetString());

        // Unlocking with flash sends the locked device to the product default at once.
        await world.PutDeviceAsync(locked, new { desired_firmware_version = (int?)null, flash = true });
        await WaitForVersionAsync(locked, 3);
        foreach (var d in devices)
        {
            await d.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_quarantined_device_gets_no_product_firmware_until_it_is_approved_and_then_at_once()
    {
        await using var server = await StartAsync(settings: new Dictionary<string, string?> { ["Bulwark:Ota:RetryBaseSeconds"] = "1" });
        var world = await OtaWorld.CreateAsync(server);
        await world.UploadAsync(1, systemVersion: 3000);
        await world.UploadAsync(2, systemVersion: 3000);
        await world.PutAsync("firmware/release", new { version = 2, product_default = true });

        // Device OS 3.x with the product's ID, never added: quarantined, and so no product OTA.
        var device = await world.AddDeviceAsync(preAdd: false, systemVersion: 3000);
        await device.ConnectAsync();
        await WaitForAsync(() => world.GetAsync("devices?quarantined=true"),
            list => list.GetProperty("devices").EnumerateArray().Any(d => d.GetProperty("id").GetString() == device.Id.ToString()));
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(1, device.ProductFirmwareVersion);

        // Approval (the same add call) starts the update while the device stays connected.
        await world.PostAsync("devices", new { id = device.Id.ToString() });
        await WaitForVersionAsync(device, 2);
        await device.DisposeAsync();
    }

    [Fact]
    public async Task A_device_that_drops_mid_update_is_retried_and_finishes()
    {
        await using var server = await StartAsync(settings: new Dictionary<string, string?>
        {
            ["Bulwark:Ota:RetryBaseSeconds"] = "1",
            ["Bulwark:Ota:MaxChunksPerSecond"] = "200",
        });
        var world = await OtaWorld.CreateAsync(server);
        await world.UploadAsync(1);
        await world.UploadAsync(2, dataSize: 60_000);
        var device = await world.AddDeviceAsync();
        await device.ConnectAsync();
        await world.PutAsync("firmware/release", new { version = 2, product_default = true, intelligent = true });
        await WaitForAsync(() => Task.FromResult(device.FirmwareUpdate.ReceivedChunkCount), n => n > 20);
        await device.DisconnectAsync();

        var failed = await WaitForAsync(() => world.FirmwareUpdateAsync(device), s => s?.GetProperty("status").GetString() == "failed");
        Assert.Equal(1, failed!.Value.GetProperty("attempts").GetInt32());
        Assert.False(string.IsNullOrEmpty(failed.Value.GetProperty("error").GetString()));

        await device.ConnectAsync();
        await WaitForVersionAsync(device, 2);
        var done = await WaitForAsync(() => world.FirmwareUpdateAsync(device), s => s?.GetProperty("status").GetString() == "success");
        Assert.Equal(2, done!.Value.GetProperty("version").GetInt32());
        await device.DisposeAsync();
    }
}

/// <summary>Development flashing of one owned device with <c>PUT /v1/devices/:id</c> and a binary.</summary>
public class FlashDeviceTests
{
    [Fact]
    public async Task An_owned_online_device_is_flashed_with_a_binary()
    {
        await using var server = await StartAsync();
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var serverKey = ServerPublicKey.FromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"))).GetProperty("public_key").GetString()!);
        var identity = DeviceIdentity.Generate();
        var id = identity.Id.ToString();
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = identity.GetPublicKeyPem(), algorithm = "rsa" }));
        await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id }));
        await using var device = new VirtualDevice(identity, serverKey, "127.0.0.1", server.GatewayPort, new VirtualDeviceOptions { PlatformId = 6, ProductFirmwareVersion = 1 });
        await device.ConnectAsync();
        var applied = device.WaitForAsync<FirmwareUpdateApplied>();

        var binary = FirmwareModuleBuilder.Build(new FirmwareModuleSpec { PlatformId = 6, ProductId = 6, ProductVersion = 7, Seed = 3 });
        // Flashing right after the device connects, while the cloud is still evaluating its firmware, must work.
        using var form = new MultipartFormDataContent { { new ByteArrayContent(binary), "file", "firmware.bin" }, { new StringContent("binary"), "file_type" } };
        var response = await client.PutAsync($"/v1/devices/{id}", form);
        await EnsureSuccessAsync(response);
        Assert.Equal("Update started", (await JsonAsync(response)).GetProperty("status").GetString());
        Assert.Equal(7, (await applied.WaitAsync(TimeSpan.FromSeconds(30))).ProductFirmwareVersion);

        var wrong = FirmwareModuleBuilder.Build(new FirmwareModuleSpec { PlatformId = 13, ProductVersion = 7 });
        using var wrongForm = new MultipartFormDataContent { { new ByteArrayContent(wrong), "file", "firmware.bin" } };
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await client.PutAsync($"/v1/devices/{id}", wrongForm)).StatusCode);
    }
}
