using System.Security.Cryptography;
using System.Text.Json;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Tests.Features.DeviceProtection;
using Bulwark.Server.Tests.Features.Teams;
using Bulwark.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Features.Devices;

/// <summary>Device vitals (<c>GET /v1/diagnostics/:id/last</c> and the product path): what the cloud knows about the
/// device, Device Protection included, read by the owner or the product team, 404 for anyone else.</summary>
public class DeviceVitalsTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    private static readonly DateTime Heard = new(2025, 3, 4, 5, 6, 7, 890, DateTimeKind.Utc);
    private static readonly DateTime Handshake = new(2025, 3, 4, 5, 0, 0, DateTimeKind.Utc);

    [Theory, MemberData(nameof(Providers))]
    public async Task Vitals_show_the_connection_versions_and_device_protection(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var product = await server.CreateProductAsync(owner, platformId: 13);
        await server.OkAsync(owner.Token, "PUT", $"/v1/products/{product}", new { device_protection = "active" });
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var id = await DeviceProtectionApiTests.AddDeviceAsync(server, owner, product, key);
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
            var device = await db.Devices.FindAsync(id);
            device!.SystemVersion = 6200;
            device.ProductFirmwareVersion = 2;
            device.LastIpAddress = "203.0.113.7";
            device.LastHeard = Heard;
            device.LastHandshakeAt = Handshake;
            device.SystemModules = """[{"f":"b","n":"0","v":3000}]""";
            await db.SaveChangesAsync();
        }

        var before = await server.OkAsync(owner.Token, "GET", $"/v1/products/{product}/diagnostics/{id}/last");
        var diagnostics = before.GetProperty("diagnostics");
        Assert.Equal(id, diagnostics.GetProperty("deviceID").GetString());
        Assert.Equal("2025-03-04T05:06:07.890Z", diagnostics.GetProperty("updated_at").GetString());
        var payload = diagnostics.GetProperty("payload");
        Assert.False(payload.GetProperty("online").GetBoolean());
        Assert.Equal("disconnected", payload.GetProperty("device").GetProperty("cloud").GetProperty("connection").GetProperty("status").GetString());
        Assert.Equal("2025-03-04T05:06:07.890Z", payload.GetProperty("last_heard").GetString());
        Assert.Equal("2025-03-04T05:00:00.000Z", payload.GetProperty("last_handshake_at").GetString());
        Assert.Equal("203.0.113.7", payload.GetProperty("last_ip_address").GetString());
        var system = payload.GetProperty("device").GetProperty("system");
        Assert.Equal(13, system.GetProperty("platform_id").GetInt32());
        Assert.Equal("6.2.0", system.GetProperty("device_os_version").GetString());
        Assert.Equal(6200, system.GetProperty("device_os_module_version").GetInt32());
        Assert.Equal(3000, system.GetProperty("bootloader_version").GetInt32());
        Assert.Equal(2, system.GetProperty("firmware_version").GetInt32());
        var protection = payload.GetProperty("device_protection");
        Assert.Equal("pending", protection.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, protection.GetProperty("reported_protected").ValueKind);
        Assert.Equal(JsonValueKind.Null, protection.GetProperty("service_mode_until").ValueKind);
        // Nothing the cloud does not measure.
        Assert.False(payload.GetProperty("device").TryGetProperty("network", out _));
        Assert.False(payload.GetProperty("device").GetProperty("system").TryGetProperty("memory", out _));

        await DeviceProtectionApiTests.ReportProtectedAsync(server, id);
        var after = await server.OkAsync(owner.Token, "GET", $"/v1/diagnostics/{id}/last");
        protection = after.GetProperty("diagnostics").GetProperty("payload").GetProperty("device_protection");
        Assert.Equal("active", protection.GetProperty("status").GetString());
        Assert.True(protection.GetProperty("reported_protected").GetBoolean());
        Assert.NotEqual(JsonValueKind.Null, protection.GetProperty("reported_at").ValueKind);
        // The report is newer than the last heard time written above.
        Assert.Equal(protection.GetProperty("reported_at").GetString(), after.GetProperty("diagnostics").GetProperty("updated_at").GetString());
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Vitals_are_read_by_the_owner_and_the_product_team_and_are_404_for_anyone_else(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var viewer = await server.CreateUserAsync();
        var stranger = await server.CreateUserAsync();
        var product = await server.CreateProductAsync(owner, platformId: 13);
        await server.InviteAsync(owner, $"/v1/products/{product}/team", viewer, "View-only");
        var (_, withScope) = await server.CreateApiUserAsync(owner.Token, $"/v1/products/{product}/team", Scopes.DevicesDiagnosticsGet);
        var (_, withoutScope) = await server.CreateApiUserAsync(owner.Token, $"/v1/products/{product}/team", Scopes.DevicesGet);
        var productDevice = await DeviceProtectionApiTests.AddDeviceAsync(server, owner, product, null);

        // The stranger's own device, outside any product.
        var (ownId, ownKey) = DeviceTestKit.NewIdentity();
        using (var client = server.CreateClient(stranger.Token))
        {
            await DeviceTestKit.ProvisionAsync(client, ownId, ownKey);
        }
        var own = ownId.ToString();

        var userPath = $"/v1/diagnostics/{productDevice}/last";
        var productPath = $"/v1/products/{product}/diagnostics/{productDevice}/last";
        foreach (var token in new[] { owner.Token, viewer.Token, withScope })
        {
            Assert.Equal(productDevice, (await server.OkAsync(token, "GET", userPath)).GetProperty("diagnostics").GetProperty("deviceID").GetString());
            Assert.Equal(productDevice, (await server.OkAsync(token, "GET", productPath)).GetProperty("diagnostics").GetProperty("deviceID").GetString());
        }
        Assert.Equal(own, (await server.OkAsync(stranger.Token, "GET", $"/v1/diagnostics/{own}/last")).GetProperty("diagnostics").GetProperty("deviceID").GetString());

        await AssertRefusedAsync(server, withoutScope, userPath, 403);
        await AssertRefusedAsync(server, withoutScope, productPath, 403);
        await AssertRefusedAsync(server, stranger.Token, userPath, 404);
        await AssertRefusedAsync(server, stranger.Token, productPath, 404);
        await AssertRefusedAsync(server, owner.Token, $"/v1/diagnostics/{own}/last", 404);
        await AssertRefusedAsync(server, owner.Token, $"/v1/products/{product}/diagnostics/{own}/last", 404);
        await AssertRefusedAsync(server, owner.Token, $"/v1/diagnostics/{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12))}/last", 404);
        await AssertRefusedAsync(server, null, userPath, 401);
    }

    private static async Task AssertRefusedAsync(BulwarkTestServer server, string? token, string path, int expected)
    {
        var (status, body) = await server.SendAsync(token, "GET", path);
        Assert.True(status == expected, $"GET {path}: expected {expected}, got {status} {body}");
        Assert.False(string.IsNullOrEmpty(body.Error()));
        Assert.False(string.IsNullOrEmpty(body.Description()));
    }
}
