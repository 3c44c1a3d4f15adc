using System.Net.Http.Json;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Tests.Features.Devices;

/// <summary>Shared steps: make a device identity, register its key, claim it, read audit rows.</summary>
internal static class DeviceTestKit
{
    public static (DeviceId Id, DevicePrivateKey Key) NewIdentity() =>
        (DeviceId.FromBytes(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)), DevicePrivateKey.Generate());

    public static async Task<ServerPublicKey> ServerKeyAsync(BulwarkTestServer server)
    {
        using var client = server.CreateClient();
        var body = await BulwarkTestServer.JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"));
        return ServerPublicKey.FromPem(body.GetProperty("public_key").GetString()!);
    }

    public static async Task ProvisionAsync(HttpClient client, DeviceId id, DevicePrivateKey key, bool claim = true)
    {
        var response = await client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = key.PublicKey.ToPem(), algorithm = "rsa" });
        await BulwarkTestServer.EnsureSuccessAsync(response);
        if (claim)
        {
            await BulwarkTestServer.EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id = id.ToString() }));
        }
    }

    public static async Task<List<AuditEvent>> AuditAsync(BulwarkTestServer server, AuditEventType type)
    {
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var code = (int)type;
        return await db.AuditEvents.AsNoTracking().Where(e => e.Type == code).ToListAsync();
    }

    /// <summary>Polls until the condition holds (the gateway records asynchronously) or fails after the timeout.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string because, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting: " + because);
            }
            await Task.Delay(50);
        }
    }
}
