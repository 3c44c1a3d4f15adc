using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.DeviceSim.Protection;
using Bulwark.EndToEnd.Tests.Infrastructure;
using Bulwark.Firmware;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.EndToEnd.Tests.Ota.OtaWaits;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.DeviceProtection;

/// <summary>Device Protection end to end: a protected product, a bulwark-sim Gen3 device (Boron, 13) over UDP/DTLS that takes
/// product firmware and then the protected bootloader by OTA v3 through the real gateway, refuses local control, and is put
/// in Service Mode and back by the <c>bulwark</c> CLI over its local control channel. Only Gen3 devices can be protected, and
/// they connect over UDP only, so there is no TCP variant.</summary>
public class DeviceProtectionEndToEndTests
{
    private const ushort Boron = 13;
    private const ushort BootloaderVersion = 3000;

    [Fact]
    public async Task A_device_becomes_protected_by_OTA_refuses_local_control_and_goes_into_Service_Mode_and_back_through_the_CLI()
    {
        var username = $"operator-{Guid.NewGuid():N}@example.com";
        await using var server = await StartAsync(settings: new Dictionary<string, string?>
        {
            ["Bulwark:Ota:RetryBaseSeconds"] = "1",
            ["DeviceProtection:Operators:0"] = username,
        });
        var owner = await server.CreateUserAsync(username);
        using var http = server.CreateClient(owner.Token);
        using var cli = new CliRunner(server.BaseAddress);
        cli.Environment["BULWARK_TOKEN"] = owner.Token;

        // A Boron product with Device Protection turned on through the CLI.
        var created = await http.PostAsJsonAsync("/v1/user/products", new { product = new { name = "Protected " + Guid.NewGuid().ToString("N")[..8], platform_id = Boron } });
        await EnsureSuccessAsync(created);
        var productId = (await JsonAsync(created)).GetProperty("product").GetProperty("id").GetInt32();
        var product = productId.ToString(CultureInfo.InvariantCulture);
        var enable = await cli.RunAsync("product", "protection", "enable", "--product", product, "--json");
        Assert.True(enable.ExitCode == 0, enable.ToString());
        Assert.Equal("active", JsonDocument.Parse(enable.Stdout).RootElement.GetProperty("device_protection").GetString());
        var product2 = await http.GetAsync($"/v1/products/{productId}");
        Assert.Equal("active", (await JsonAsync(product2)).GetProperty("product").GetProperty("device_protection").GetString());

        // The operator imports the Boron bootloader into the Device OS catalogue, as Particle publishes it (unprotected).
        var bootloader = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = Boron, Function = ModuleFunction.Bootloader, Index = 0, Version = BootloaderVersion, DataSize = 4096, Seed = 11,
        });
        using (var body = new ByteArrayContent(bootloader))
        {
            body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            await EnsureSuccessAsync(await http.PostAsync("/v1/device-os/modules", body));
        }

        // Product firmware 2 targets Device OS 6.0 and is released as the product default.
        await UploadAsync(http, productId, 2);
        await EnsureSuccessAsync(await http.PutAsJsonAsync($"/v1/products/{productId}/firmware/release",
            new { version = 2, product_default = true, intelligent = true }));

        // The device: one EC P-256 key, registered, for the DTLS handshake and Service Mode alike; the server's EC key in its DCT.
        var serverEcSpki = await Gen3Devices.ServerEcKeyAsync(http);
        var identity = DeviceIdentity.Generate();
        var id = identity.Id.ToString();
        using var deviceEc = Gen3Devices.OpenEcKey(identity);
        await Gen3Devices.ProvisionEcKeyAsync(http, identity);
        await EnsureSuccessAsync(await http.PostAsJsonAsync($"/v1/products/{productId}/devices", new { id }));
        // The owner claims it: the device is theirs as well as the product's (the owner's token is what the flash policy must refuse).
        await EnsureSuccessAsync(await http.PostAsJsonAsync("/v1/devices", new { id }));
        var protection = new DeviceProtectionState(identity.Id, deviceEc, serverEcSpki);
        await using var device = Gen3Devices.Create(server, identity, new VirtualDeviceOptions
        {
            PlatformId = Boron,
            ProductId = (ushort)productId,
            ProductFirmwareVersion = 1,
            SystemVersion = 6200,
            BootloaderVersion = BootloaderVersion,
            NotificationCapacity = 0,
            Protection = protection,
            LocalControlPort = 0,
        }.OverUdp(serverEcSpki));
        var control = $"127.0.0.1:{device.LocalControlEndPoint!.Port}";

        // Open before anything arrives: local control is served.
        Assert.Equal(SystemError.None, (await RawControlAsync(device, 2, [])).Result);
        var open = await cli.RunAsync("device-protection", "status", "--device", id, "--control", control);
        Assert.True(open.ExitCode == 0, open.ToString());
        Assert.Equal("Open", open.Stdout.Trim());

        // It takes the product firmware, then the protected bootloader, and reports itself protected.
        await device.ConnectAsync();
        await WaitForAsync(() => Task.FromResult(device.ProductFirmwareVersion), v => v == 2);
        await WaitForAsync(() => Task.FromResult(protection.IsProtected), p => p);
        await WaitForAsync(() => CloudStatusAsync(http, id), s => s == "active");
        Assert.Equal(SystemError.Protected, (await RawControlAsync(device, 2, [])).Result);
        Assert.Equal(SystemError.Protected, device.HandleLocalControlRequest(0x8000, []).Result);
        var status = await cli.RunAsync("device-protection", "status", "--device", id, "--control", control);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Equal("Protected", status.Stdout.Trim());
        var cloudView = await cli.RunAsync("device-protection", "status", "--device", id);
        Assert.True(cloudView.ExitCode == 0, cloudView.ToString());
        Assert.StartsWith("Protected", cloudView.Stdout.Trim(), StringComparison.Ordinal);

        // The owner's own token cannot flash an ad-hoc application onto it.
        var adHoc = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = Boron, Function = ModuleFunction.UserPart, Version = 6, ProductVersion = 9, Seed = 99,
            Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, 6000),
        });
        using (var form = new MultipartFormDataContent { { new ByteArrayContent(adHoc) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } }, "file", "app.bin" } })
        {
            var flash = await http.PutAsync($"/v1/devices/{id}", form);
            Assert.Equal(HttpStatusCode.Forbidden, flash.StatusCode);
        }
        Assert.Equal(2, device.ProductFirmwareVersion);

        // The wrong device on the channel is caught before anything is exchanged.
        var wrong = await cli.RunAsync("device-protection", "disable", "--device", DeviceIdentity.Generate().Id.ToString(), "--control", control);
        Assert.Equal(2, wrong.ExitCode);

        // Service Mode through the CLI: cloud prepare, device PREPARE, cloud confirm, device CONFIRM.
        var disable = await cli.RunAsync("device-protection", "disable", "--device", id, "--control", control);
        Assert.True(disable.ExitCode == 0, disable.ToString());
        Assert.Equal("Protected (Service Mode)", disable.Stdout.Trim());
        Assert.True(protection.InServiceMode);
        Assert.Equal(SystemError.None, (await RawControlAsync(device, 2, [])).Result);
        Assert.Equal("service_mode", await CloudStatusAsync(http, id));

        // The device's vitals show it as the cloud records it, with when Service Mode runs out.
        var vitals = await cli.RunAsync("device", "vitals", id, "--product", product, "--json");
        Assert.True(vitals.ExitCode == 0, vitals.ToString());
        var vitalsPayload = JsonDocument.Parse(vitals.Stdout).RootElement.GetProperty("diagnostics").GetProperty("payload");
        Assert.Equal("service_mode", vitalsPayload.GetProperty("device_protection").GetProperty("status").GetString());
        Assert.Equal(20, vitalsPayload.GetProperty("device_protection").GetProperty("service_mode_resets_left").GetInt32());
        Assert.True(vitalsPayload.GetProperty("online").GetBoolean());
        var vitalsTable = await cli.RunAsync("device", "vitals", id);
        Assert.True(vitalsTable.ExitCode == 0, vitalsTable.ToString());
        Assert.Contains("service_mode (until ", vitalsTable.Stdout, StringComparison.Ordinal);
        Assert.Contains("online", vitalsTable.Stdout, StringComparison.Ordinal);

        // And back to protection on request.
        var reenable = await cli.RunAsync("device-protection", "enable", "--device", id, "--control", control);
        Assert.True(reenable.ExitCode == 0, reenable.ToString());
        Assert.Equal("Protected", reenable.Stdout.Trim());
        Assert.False(protection.InServiceMode);
        Assert.Equal(SystemError.Protected, (await RawControlAsync(device, 2, [])).Result);
        Assert.Equal("active", await CloudStatusAsync(http, id));

        // Not the device's owner on the product team: the cloud refuses its half of the exchange.
        var stranger = await server.CreateUserAsync();
        using var strangerCli = new CliRunner(server.BaseAddress);
        strangerCli.Environment["BULWARK_TOKEN"] = stranger.Token;
        var refused = await strangerCli.RunAsync("device-protection", "disable", "--device", id, "--control", control);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.True(protection.Enforcing);
        Assert.Equal(5, (await strangerCli.RunAsync("device", "vitals", id)).ExitCode);
    }

    [Fact]
    public async Task The_CLI_reports_an_unreachable_control_channel_and_a_bad_address()
    {
        using var cli = new CliRunner(new Uri("http://127.0.0.1:9"));
        cli.Environment["BULWARK_TOKEN"] = "unused";
        var id = DeviceIdentity.Generate().Id.ToString();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var unreachable = await cli.RunAsync("device-protection", "status", "--device", id, "--control", $"127.0.0.1:{port}");
        Assert.Equal(9, unreachable.ExitCode);
        Assert.Contains("local control channel", unreachable.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, (await cli.RunAsync("device-protection", "status", "--device", id, "--control", "nowhere")).ExitCode);
        Assert.Equal(2, (await cli.RunAsync("device-protection", "status", "--device", "not-a-device", "--control", "127.0.0.1:1")).ExitCode);
        Assert.Equal(2, (await cli.RunAsync("device-protection", "disable", "--device", id)).ExitCode);
    }

    private static async Task<ControlReply> RawControlAsync(VirtualDevice device, int type, byte[] payload)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(device.LocalControlEndPoint!);
        return await LocalControlServer.SendAsync(client.GetStream(), type, payload);
    }

    private static async Task<string?> CloudStatusAsync(HttpClient http, string id)
    {
        var response = await http.GetAsync($"/v1/devices/{id}");
        await EnsureSuccessAsync(response);
        var json = await JsonAsync(response);
        return json.TryGetProperty("device_protection", out var p) && p.ValueKind == JsonValueKind.Object ? p.GetProperty("status").GetString() : json.ToString();
    }

    private static async Task UploadAsync(HttpClient http, int productId, int version)
    {
        var binary = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = Boron,
            ProductId = (ushort)productId,
            ProductVersion = (ushort)version,
            Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, 6000),
            Seed = version,
        });
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(binary), "binary", "firmware.bin" },
            { new StringContent(version.ToString(CultureInfo.InvariantCulture)), "version" },
            { new StringContent("v" + version), "title" },
        };
        await EnsureSuccessAsync(await http.PostAsync($"/v1/products/{productId}/firmware", form));
    }
}

/// <summary>The bulwark-sim local control channel's framing (the USB stand-in the CLI talks to).</summary>
public class LocalControlServerTests
{
    [Fact]
    public async Task Requests_are_framed_answered_in_order_and_bad_frames_close_only_their_connection()
    {
        var seen = new List<(int Type, byte[] Payload)>();
        await using var server = LocalControlServer.Start((type, payload) =>
        {
            lock (seen)
            {
                seen.Add((type, payload));
            }
            return type == 666 ? throw new InvalidOperationException("boom") : new ControlReply(-type, [.. payload, 0xEE]);
        });
        Assert.Equal(IPAddress.Loopback, server.EndPoint.Address);

        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint);
        var stream = client.GetStream();
        var first = await LocalControlServer.SendAsync(stream, 76, Array.Empty<byte>());
        Assert.Equal(-76, first.Result);
        Assert.Equal(new byte[] { 0xEE }, first.Payload);
        var second = await LocalControlServer.SendAsync(stream, 77, new byte[] { 1, 2, 3 });
        Assert.Equal(new byte[] { 1, 2, 3, 0xEE }, second.Payload);
        // A handler failure is an error reply, not a dropped channel.
        Assert.Equal(SystemError.InvalidState, (await LocalControlServer.SendAsync(stream, 666, Array.Empty<byte>())).Result);
        Assert.Equal(-20, (await LocalControlServer.SendAsync(stream, 20, Array.Empty<byte>())).Result);

        // An oversized frame closes that connection without reading it; others carry on.
        using var greedy = new TcpClient();
        await greedy.ConnectAsync(server.EndPoint);
        var header = new byte[] { 0, 1, 0xFF, 0xFF, 0xFF, 0xFF };
        await greedy.GetStream().WriteAsync(header);
        var buffer = new byte[8];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await greedy.GetStream().ReadAsync(buffer, timeout.Token));
        Assert.Equal(-10, (await LocalControlServer.SendAsync(stream, 10, Array.Empty<byte>())).Result);
        Assert.Equal(5, seen.Count);
    }
}
