using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.EndToEnd.Tests.Infrastructure;
using Bulwark.Firmware;
using Bulwark.Protocol.Keys;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.Cli;

/// <summary><c>bulwark firmware|group</c> and <c>device flash</c> against the real server: upload with a progress bar, list,
/// groups, a release to a group, a product-default release watched until a bulwark-sim device runs it, download, delete,
/// and the exit codes of the refusals.</summary>
public sealed class FirmwareCommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int Platform = 6;

    [Fact]
    public async Task Firmware_and_group_commands_upload_release_watch_download_and_delete()
    {
        var server = fixture.Server;
        var user = await server.CreateUserAsync();
        using var cli = new CliRunner(server.BaseAddress);
        cli.Environment["BULWARK_TOKEN"] = user.Token;
        var folder = Directory.CreateTempSubdirectory("bulwark-fw-").FullName;
        try
        {
            var product = Json(await Ok(cli, "product", "create", "--name", "Fw " + Guid.NewGuid().ToString("N")[..8], "--platform", "photon", "--json"))
                .GetProperty("id").GetInt32();
            var p = product.ToString(CultureInfo.InvariantCulture);
            var files = new Dictionary<int, string>();
            foreach (var v in new[] { 1, 2, 3 })
            {
                files[v] = Path.Combine(folder, $"app-v{v}.bin");
                await File.WriteAllBytesAsync(files[v], Module(product, v, dataSize: v == 1 ? 1024 : 40_000));
            }

            // Upload: a progress bar on stderr, the result on stdout.
            var upload = await Ok(cli, "firmware", "upload", files[1], "--product", p, "--version", "1", "--title", "First");
            Assert.Contains("Uploaded firmware version 1", upload.Stdout, StringComparison.Ordinal);
            Assert.Contains("100%", upload.Stderr, StringComparison.Ordinal);
            Assert.Contains("[##############################]", upload.Stderr, StringComparison.Ordinal);
            var second = Json(await Ok(cli, "firmware", "upload", files[2], "-p", p, "-v", "2", "--description", "Second", "--json"));
            Assert.Equal(2, second.GetProperty("version").GetInt32());
            Assert.Equal("v2", second.GetProperty("title").GetString());
            Assert.Equal(new FileInfo(files[2]).Length, second.GetProperty("size").GetInt64());
            await Ok(cli, "firmware", "upload", files[3], "-p", p, "-v", "3");

            // Groups.
            Assert.Contains("Created group beta", (await Ok(cli, "group", "create", "beta", "--product", p, "--description", "Early", "--color", "#00ff00")).Stdout,
                StringComparison.Ordinal);
            await Ok(cli, "group", "create", "temp", "--product", p);
            Assert.Contains("Updated group scratch", (await Ok(cli, "group", "update", "temp", "--product", p, "--name", "scratch")).Stdout, StringComparison.Ordinal);
            var groups = Json(await Ok(cli, "group", "list", "--product", p, "--json"));
            Assert.Equal(new[] { "beta", "scratch" }, groups.EnumerateArray().Select(g => g.GetProperty("name").GetString()!).ToArray());
            await Ok(cli, "group", "delete", "scratch", "--product", p);
            Assert.DoesNotContain("scratch", (await Ok(cli, "group", "list", "--product", p)).Stdout, StringComparison.Ordinal);

            // A device in the product, online, on version 1.
            await using var device = await AddDeviceAsync(server.CreateClient(user.Token), product, server.GatewayPort);
            await device.ConnectAsync();

            // Release 2 to the group: nobody is in it, so the watch ends at once and the device stays on 1.
            var toGroup = await Ok(cli, "firmware", "release", "2", "--product", p, "--group", "beta", "--intelligent", "--watch", "--timeout", "30");
            Assert.Contains("group beta", toGroup.Stdout, StringComparison.Ordinal);
            Assert.Contains("0 devices to update", toGroup.Stdout, StringComparison.Ordinal);
            var list = Json(await Ok(cli, "firmware", "list", "--product", p, "--json"));
            var v2 = list.EnumerateArray().Single(f => f.GetProperty("version").GetInt32() == 2);
            Assert.Equal(new[] { "beta" }, v2.GetProperty("groups").EnumerateArray().Select(g => g.GetString()!).ToArray());
            Assert.True(v2.GetProperty("released").GetBoolean());
            Assert.Equal(2, Json(await Ok(cli, "group", "list", "--product", p, "--json")).EnumerateArray().Single().GetProperty("fw_version").GetInt32());
            var table = (await Ok(cli, "firmware", "list", "--product", p)).Stdout;
            Assert.Matches(@"(?m)^2\s+v2\s+\d+\s+-\s+beta\s+0\s+yes", table);

            // Release 3 as the product default and watch it reach the device.
            var rollout = await Ok(cli, "firmware", "release", "3", "--product", p, "--product-default", "--intelligent", "--watch", "--timeout", "60");
            Assert.Contains("the product default", rollout.Stdout, StringComparison.Ordinal);
            Assert.Contains("1 device to update now", rollout.Stdout, StringComparison.Ordinal);
            Assert.Contains("Rolling out v3", rollout.Stderr, StringComparison.Ordinal);
            Assert.Contains("1/1 devices", rollout.Stderr, StringComparison.Ordinal);
            Assert.Contains("done", rollout.Stderr, StringComparison.Ordinal);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (device.ProductFirmwareVersion != 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.Equal(3, device.ProductFirmwareVersion);

            // Download equals what was uploaded.
            var downloaded = Path.Combine(folder, "down.bin");
            await Ok(cli, "firmware", "download", "2", "--product", p, "--out", downloaded);
            Assert.Equal(await File.ReadAllBytesAsync(files[2]), await File.ReadAllBytesAsync(downloaded));

            // Delete: an unreleased version goes, a released one stays.
            var four = Path.Combine(folder, "app-v4.bin");
            await File.WriteAllBytesAsync(four, Module(product, 4));
            await Ok(cli, "firmware", "upload", four, "--product", p, "--version", "4");
            Assert.Contains("Deleted firmware version 4", (await Ok(cli, "firmware", "delete", "4", "--product", p)).Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(Json(await Ok(cli, "firmware", "list", "--product", p, "--json")).EnumerateArray(), f => f.GetProperty("version").GetInt32() == 4);
            var released = await Fails(cli, 1, "firmware", "delete", "2", "--product", p);
            Assert.Contains("released", released.Stderr, StringComparison.Ordinal);

            // Refusals and their exit codes.
            var mismatch = await Fails(cli, 1, "firmware", "upload", four, "--product", p, "--version", "5");
            Assert.Contains("version", mismatch.Stderr, StringComparison.OrdinalIgnoreCase);
            await Fails(cli, 2, "firmware", "upload", Path.Combine(folder, "missing.bin"), "--product", p, "--version", "5");
            await Fails(cli, 2, "firmware", "list");
            await Fails(cli, 2, "firmware", "release", "3", "--product", p);
            await Fails(cli, 2, "firmware", "release", "0", "--product", p, "--product-default");
            await Fails(cli, 2, "group", "update", "beta", "--product", p);
            await Fails(cli, 5, "firmware", "download", "99", "--product", p, "--out", Path.Combine(folder, "x.bin"));
            Assert.False(File.Exists(Path.Combine(folder, "x.bin")));
            await Fails(cli, 5, "firmware", "delete", "99", "--product", p);
            await Fails(cli, 5, "firmware", "list", "--product", "999999999");
            await Fails(cli, 5, "group", "delete", "nope", "--product", p);
            var unknownGroup = await Fails(cli, 1, "firmware", "release", "2", "--product", p, "--group", "nope");
            Assert.Contains("nope", unknownGroup.Stderr, StringComparison.Ordinal);
            await Fails(cli, 1, "group", "create", "beta", "--product", p);
            cli.Environment.Remove("BULWARK_TOKEN");
            await Fails(cli, 3, "firmware", "list", "--product", p);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Device_flash_sends_a_binary_to_an_owned_online_device()
    {
        var server = fixture.Server;
        var user = await server.CreateUserAsync();
        using var cli = new CliRunner(server.BaseAddress);
        cli.Environment["BULWARK_TOKEN"] = user.Token;
        using var client = server.CreateClient(user.Token);
        var serverKey = ServerPublicKey.FromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"))).GetProperty("public_key").GetString()!);
        var identity = DeviceIdentity.Generate();
        var id = identity.Id.ToString();
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = identity.GetPublicKeyPem(), algorithm = "rsa" }));
        await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id }));
        await using var device = new VirtualDevice(identity, serverKey, "127.0.0.1", server.GatewayPort,
            new VirtualDeviceOptions { PlatformId = Platform, ProductFirmwareVersion = 1 });
        await device.ConnectAsync();
        var applied = device.WaitForAsync<FirmwareUpdateApplied>();
        var file = Path.Combine(Directory.CreateTempSubdirectory("bulwark-flash-").FullName, "dev.bin");
        await File.WriteAllBytesAsync(file, FirmwareModuleBuilder.Build(new FirmwareModuleSpec { PlatformId = Platform, ProductId = Platform, ProductVersion = 7, Seed = 9 }));

        var flash = await Ok(cli, "device", "flash", id, file);
        Assert.Contains("Update started", flash.Stdout, StringComparison.Ordinal);
        Assert.Contains("100%", flash.Stderr, StringComparison.Ordinal);
        Assert.Equal(7, (await applied.WaitAsync(TimeSpan.FromSeconds(30))).ProductFirmwareVersion);

        var wrong = Path.Combine(Path.GetDirectoryName(file)!, "boron.bin");
        await File.WriteAllBytesAsync(wrong, FirmwareModuleBuilder.Build(new FirmwareModuleSpec { PlatformId = 13, ProductVersion = 7 }));
        var refused = await cli.RunAsync("device", "flash", id, wrong);
        Assert.True(refused.ExitCode is 1 or 2, refused.ToString());
        Assert.Contains("error: ", refused.Stderr, StringComparison.Ordinal);
        await Fails(cli, 5, "device", "flash", "0123456789abcdef01234567", file);
        Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
    }

    private static byte[] Module(int product, int version, int dataSize = 1024) => FirmwareModuleBuilder.Build(new FirmwareModuleSpec
    {
        PlatformId = Platform,
        ProductId = (ushort)product,
        ProductVersion = (ushort)version,
        Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, 6200),
        DataSize = dataSize,
        Seed = version,
    });

    private static async Task<VirtualDevice> AddDeviceAsync(HttpClient client, int product, int gatewayPort)
    {
        using (client)
        {
            var serverKey = ServerPublicKey.FromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"))).GetProperty("public_key").GetString()!);
            var identity = DeviceIdentity.Generate();
            var id = identity.Id.ToString();
            await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = identity.GetPublicKeyPem(), algorithm = "rsa" }));
            await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/products/{product}/devices", new { id }));
            return new VirtualDevice(identity, serverKey, "127.0.0.1", gatewayPort, new VirtualDeviceOptions
            {
                PlatformId = Platform,
                ProductId = (ushort)product,
                ProductFirmwareVersion = 1,
                SystemVersion = 6200,
                NotificationCapacity = 0,
            });
        }
    }

    private static async Task<CliResult> Ok(CliRunner cli, params string[] args)
    {
        var result = await cli.RunAsync(args);
        Assert.True(result.ExitCode == 0, string.Join(' ', args) + "\n" + result);
        return result;
    }

    private static async Task<CliResult> Fails(CliRunner cli, int exitCode, params string[] args)
    {
        var result = await cli.RunAsync(args);
        Assert.True(result.ExitCode == exitCode, string.Join(' ', args) + "\n" + result);
        Assert.Contains("error: ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
        return result;
    }

    private static JsonElement Json(CliResult result) => JsonDocument.Parse(result.Stdout).RootElement;
}
