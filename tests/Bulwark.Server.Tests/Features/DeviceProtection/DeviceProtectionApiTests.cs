using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Bulwark.Firmware;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.DeviceProtection;
using Bulwark.Server.Features.Keys;
using Bulwark.Server.Tests.Features.Devices;
using Bulwark.Server.Tests.Features.Teams;
using Bulwark.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Features.DeviceProtection;

/// <summary>Device Protection through the API: enabling it (who, which platforms, irreversibly), Service Mode prepare and
/// confirm with the device's real key, the fleet report, and the flash policy on development flashing.</summary>
public class DeviceProtectionApiTests
{
    [Fact]
    public async Task Owner_enables_protection_irreversibly_only_on_capable_platforms()
    {
        await using var server = await BulwarkTestServer.StartAsync();
        var owner = await server.CreateUserAsync();
        var developer = await server.CreateUserAsync();
        var product = await server.CreateProductAsync(owner, platformId: 13);
        await server.InviteAsync(owner, $"/v1/products/{product}/team", developer, "Developer");

        var before = await server.OkAsync(owner.Token, "GET", $"/v1/products/{product}");
        Assert.Equal("disabled", before.GetProperty("product").GetProperty("device_protection").GetString());

        var (devStatus, _) = await server.SendAsync(developer.Token, "PUT", $"/v1/products/{product}", new { device_protection = "active" });
        Assert.Equal(403, devStatus);

        var enabled = await server.OkAsync(owner.Token, "PUT", $"/v1/products/{product}", new { device_protection = "active" });
        Assert.Equal("active", enabled.GetProperty("product").GetProperty("device_protection").GetString());
        Assert.Single(await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceProtectionEnabled));

        var (offStatus, off) = await server.SendAsync(owner.Token, "PUT", $"/v1/products/{product}", new { device_protection = "disabled" });
        Assert.Equal(409, offStatus);
        Assert.Equal("device_protection_irreversible", off.Error());
        var after = await server.OkAsync(owner.Token, "GET", $"/v1/products/{product}");
        Assert.Equal("active", after.GetProperty("product").GetProperty("device_protection").GetString());

        var photon = await server.CreateProductAsync(owner, platformId: 6);
        var (photonStatus, photonBody) = await server.SendAsync(owner.Token, "PUT", $"/v1/products/{photon}", new { device_protection = "active" });
        Assert.Equal(400, photonStatus);
        Assert.Equal("device_protection_unsupported_platform", photonBody.Error());

        var other = await server.CreateProductAsync(owner, platformId: 12);
        var (_, apiToken) = await server.CreateApiUserAsync(owner.Token, $"/v1/products/{other}/team", "products:update", "products:get");
        var (apiStatus, _) = await server.SendAsync(apiToken, "PUT", $"/v1/products/{other}", new { device_protection = "active" });
        Assert.Equal(403, apiStatus);
    }

    [Fact]
    public async Task Organizations_without_the_capability_cannot_enable_it()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: new Dictionary<string, string?> { ["DeviceProtection:AllOrganizations"] = "false" });
        var owner = await server.CreateUserAsync();
        var org = await server.CreateOrgAsync(owner);
        var product = await server.CreateProductAsync(owner, org, platformId: 13);
        var (status, body) = await server.SendAsync(owner.Token, "PUT", $"/v1/products/{product}", new { device_protection = "active" });
        Assert.Equal(403, status);
        Assert.Equal("device_protection_not_available", body.Error());
    }

    [Fact]
    public async Task Service_mode_exchange_with_the_devices_key()
    {
        await using var server = await BulwarkTestServer.StartAsync();
        var owner = await server.CreateUserAsync();
        var viewer = await server.CreateUserAsync();
        var developer = await server.CreateUserAsync();
        var product = await server.CreateProductAsync(owner, platformId: 13);
        await server.InviteAsync(owner, $"/v1/products/{product}/team", viewer, "View-only");
        await server.InviteAsync(owner, $"/v1/products/{product}/team", developer, "Developer");
        await server.OkAsync(owner.Token, "PUT", $"/v1/products/{product}", new { device_protection = "active" });
        using var deviceKey = ServiceModeAuthorizerTests.Key(ServiceModeAuthorizerTests.DevicePem);
        var deviceId = await AddDeviceAsync(server, owner, product, deviceKey);

        // No key registered for a second device: Particle's message, which the CLI maps to its hint.
        var bare = await AddDeviceAsync(server, owner, product, null);
        var (bareStatus, bareBody) = await server.SendAsync(owner.Token, "PUT", $"/v1/devices/{bare}/unprotect", new { action = "prepare" });
        Assert.Equal(404, bareStatus);
        Assert.Equal(ServiceModeAuthorizer.DeviceKeyNotFound, bareBody.Description());

        // Only roles holding devices:unprotect (administrators and owners).
        Assert.Equal(403, (await server.SendAsync(viewer.Token, "PUT", $"/v1/products/{product}/devices/{deviceId}/unprotect", new { action = "prepare" })).Status);
        Assert.Equal(403, (await server.SendAsync(developer.Token, "PUT", $"/v1/devices/{deviceId}/unprotect", new { action = "prepare" })).Status);

        await ReportProtectedAsync(server, deviceId);
        Assert.Equal("active", await StatusAsync(server, owner, product, deviceId));

        var prepared = await server.OkAsync(owner.Token, "PUT", $"/v1/devices/{deviceId}/unprotect", new { action = "prepare" });
        var serverNonce = Convert.FromBase64String(prepared.GetProperty("server_nonce").GetString()!);
        Assert.Equal(32, serverNonce.Length);
        var deviceNonce = RandomNumberGenerator.GetBytes(32);
        var idBytes = DeviceId.Parse(deviceId).ToArray();
        var deviceSignature = ServiceModeSignatures.Sign(deviceKey, ServiceModeSignatures.DeviceHash(idBytes, deviceNonce, serverNonce));
        var fingerprint = ServiceModeSignatures.Fingerprint(deviceKey);
        var confirm = new
        {
            action = "confirm",
            server_nonce = Convert.ToBase64String(serverNonce),
            device_nonce = Convert.ToBase64String(deviceNonce),
            device_signature = Convert.ToBase64String(deviceSignature),
            device_public_key_fingerprint = Convert.ToBase64String(fingerprint),
        };
        var confirmed = await server.OkAsync(owner.Token, "PUT", $"/v1/products/{product}/devices/{deviceId}/unprotect", confirm);
        var serverKeys = server.Services.GetRequiredService<ServerKeyStore>();
        Assert.Equal(ServiceModeSignatures.Fingerprint(serverKeys.EcPublicKeySpki),
            Convert.FromBase64String(confirmed.GetProperty("server_public_key_fingerprint").GetString()!));
        using (var serverPublic = ECDsa.Create())
        {
            serverPublic.ImportSubjectPublicKeyInfo(serverKeys.EcPublicKeySpki, out _);
            Assert.True(ServiceModeSignatures.Verify(serverPublic, ServiceModeSignatures.ServerHash(idBytes, serverNonce, deviceNonce, fingerprint),
                Convert.FromBase64String(confirmed.GetProperty("server_signature").GetString()!)));
        }
        Assert.Equal("service_mode", await StatusAsync(server, owner, product, deviceId));

        // The same confirm again is a replay.
        var (replayStatus, replay) = await server.SendAsync(owner.Token, "PUT", $"/v1/devices/{deviceId}/unprotect", confirm);
        Assert.Equal(403, replayStatus);
        Assert.Equal(ServiceModeAuthorizer.CodeUnknownNonce, replay.Error());

        var report = await server.OkAsync(owner.Token, "GET", $"/v1/products/{product}/device-protection");
        Assert.Equal(1, report.GetProperty("counts").GetProperty("service_mode").GetInt32());
        Assert.Equal(1, report.GetProperty("counts").GetProperty("pending").GetInt32());

        await server.OkAsync(owner.Token, "PUT", $"/v1/devices/{deviceId}/unprotect", new { action = "reset" });
        Assert.Equal("active", await StatusAsync(server, owner, product, deviceId));
        Assert.Single(await DeviceTestKit.AuditAsync(server, AuditEventType.ServiceModeGranted));
        Assert.NotEmpty(await DeviceTestKit.AuditAsync(server, AuditEventType.ServiceModeRefused));
        Assert.NotEmpty(await DeviceTestKit.AuditAsync(server, AuditEventType.ServiceModeEnded));
    }

    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task Service_mode_prepare_is_refused_until_the_device_reports_protection(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var product = await server.CreateProductAsync(owner, platformId: 13);
        await server.OkAsync(owner.Token, "PUT", $"/v1/products/{product}", new { device_protection = "active" });
        using var deviceKey = ServiceModeAuthorizerTests.Key(ServiceModeAuthorizerTests.DevicePem);
        var pending = await AddDeviceAsync(server, owner, product, deviceKey);
        Assert.Equal("pending", await StatusAsync(server, owner, product, pending));
        var openProduct = await server.CreateProductAsync(owner, platformId: 13);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var open = await AddDeviceAsync(server, owner, openProduct, otherKey);
        Assert.Equal("disabled", await StatusAsync(server, owner, openProduct, open));

        foreach (var (path, status) in new[]
        {
            ($"/v1/devices/{pending}/unprotect", "pending"),
            ($"/v1/products/{product}/devices/{pending}/unprotect", "pending"),
            ($"/v1/devices/{open}/unprotect", "disabled"),
            ($"/v1/products/{openProduct}/devices/{open}/unprotect", "disabled"),
        })
        {
            var (code, body) = await server.SendAsync(owner.Token, "PUT", path, new { action = "prepare" });
            Assert.Equal(409, code);
            Assert.Equal(DeviceProtectionEndpoints.NotProtected, body.Error());
            Assert.Contains($"is {status}", body.Description(), StringComparison.Ordinal);
        }
        var refusals = await DeviceTestKit.AuditAsync(server, AuditEventType.ServiceModeRefused);
        Assert.Equal(4, refusals.Count(e => e.Details!.Contains("has not reported Device Protection", StringComparison.Ordinal)));
        Assert.Equal(2, refusals.Count(e => e.SubjectId == open));
        Assert.Empty(await DeviceTestKit.AuditAsync(server, AuditEventType.ServiceModePrepared));

        // Once the device reports protection, the same call hands out a nonce.
        await ReportProtectedAsync(server, pending);
        var prepared = await server.OkAsync(owner.Token, "PUT", $"/v1/devices/{pending}/unprotect", new { action = "prepare" });
        Assert.Equal(32, Convert.FromBase64String(prepared.GetProperty("server_nonce").GetString()!).Length);

        // A device that said it is not protected is refused as well (reported, but not protected: still pending).
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
            await server.Services.GetRequiredService<DeviceProtectionService>().OnSystemDescribeAsync(db, pending, new SystemDescribe { ProtectedState = false }, default);
        }
        var (again, againBody) = await server.SendAsync(owner.Token, "PUT", $"/v1/devices/{pending}/unprotect", new { action = "prepare" });
        Assert.Equal(409, again);
        Assert.Equal(DeviceProtectionEndpoints.NotProtected, againBody.Error());
    }

    [Fact]
    public async Task A_protected_device_refuses_ad_hoc_flashing_even_with_the_owners_token()
    {
        await using var server = await BulwarkTestServer.StartAsync();
        var owner = await server.CreateUserAsync();
        var product = await server.CreateProductAsync(owner, platformId: 13);
        await server.OkAsync(owner.Token, "PUT", $"/v1/products/{product}", new { device_protection = "active" });
        using var deviceKey = ServiceModeAuthorizerTests.Key(ServiceModeAuthorizerTests.DevicePem);
        var deviceId = await AddDeviceAsync(server, owner, product, deviceKey);
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
            var device = await db.Devices.FindAsync(deviceId);
            device!.PlatformId = 13;
            device.SystemVersion = 6200;
            await db.SaveChangesAsync();
        }
        await ReportProtectedAsync(server, deviceId);
        var binary = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = 13, Function = ModuleFunction.UserPart, Version = 6,
            Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, 6000),
        });
        using var client = server.CreateClient(owner.Token);
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(binary) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } }, "file", "app.bin" },
        };
        var response = await client.PutAsync($"/v1/devices/{deviceId}", form);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(403, (int)response.StatusCode);
        Assert.Equal(FlashPolicy.RefusedAdHoc, body.Error());
        Assert.Single(await DeviceTestKit.AuditAsync(server, AuditEventType.FlashRefusedByProtection));
    }

    /// <summary>A device the owner provisions (RSA, and EC when given), claims and adds to the product, as a Boron.</summary>
    internal static async Task<string> AddDeviceAsync(BulwarkTestServer server, TestUser owner, int product, ECDsa? ecKey)
    {
        var (id, rsa) = DeviceTestKit.NewIdentity();
        using var client = server.CreateClient(owner.Token);
        await DeviceTestKit.ProvisionAsync(client, id, rsa);
        if (ecKey is not null)
        {
            var ec = await client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = ecKey.ExportSubjectPublicKeyInfoPem(), algorithm = "ecc" });
            await BulwarkTestServer.EnsureSuccessAsync(ec);
        }
        await server.OkAsync(owner.Token, "POST", $"/v1/products/{product}/devices", new { id = id.ToString() });
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var device = await db.Devices.FindAsync(id.ToString());
        device!.PlatformId = 13;
        await db.SaveChangesAsync();
        await server.Services.GetRequiredService<DeviceProtectionService>().RefreshAsync(db, id.ToString(), default);
        return id.ToString();
    }

    /// <summary>What the gateway does with a system Describe that reports a protected bootloader.</summary>
    internal static async Task ReportProtectedAsync(BulwarkTestServer server, string deviceId)
    {
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        await server.Services.GetRequiredService<DeviceProtectionService>().OnSystemDescribeAsync(db, deviceId, new SystemDescribe { ProtectedState = true }, default);
    }

    private static async Task<string> StatusAsync(BulwarkTestServer server, TestUser owner, int product, string deviceId)
    {
        var device = await server.OkAsync(owner.Token, "GET", $"/v1/products/{product}/devices/{deviceId}");
        return device.GetProperty("device_protection").GetProperty("status").GetString()!;
    }
}
