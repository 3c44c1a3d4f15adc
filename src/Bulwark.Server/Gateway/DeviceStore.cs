using System.Collections.Concurrent;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Admission;
using Bulwark.Server.Features.Audit;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Gateway;

/// <summary>The gateway's reads and writes of device rows, plus a cache of parsed device keys (parsing a key costs
/// many times the RSA operation it serves).</summary>
public sealed class DeviceStore(IServiceScopeFactory scopes, AuditLog audit, TimeProvider clock, DeviceAdmission admission)
{
    /// <summary>Product admission, decided at every connection right after the Hello is recorded.</summary>
    public DeviceAdmission Admission => admission;

    private readonly ConcurrentDictionary<DeviceId, (string Pem, DevicePublicKey Key)> _keys = new();

    /// <summary>The registered TCP key, or null when the device is unknown or has none.</summary>
    public async ValueTask<DevicePublicKey?> FindKeyAsync(DeviceId deviceId, CancellationToken cancellationToken)
    {
        if (_keys.TryGetValue(deviceId, out var cached))
        {
            return cached.Key;
        }
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var id = deviceId.ToString();
        var pem = await db.Devices.AsNoTracking().Where(d => d.Id == id).Select(d => d.PublicKeyPem).FirstOrDefaultAsync(cancellationToken);
        if (pem is null)
        {
            return null;
        }
        try
        {
            var key = DevicePublicKey.FromPem(pem);
            _keys[deviceId] = (pem, key);
            return key;
        }
        catch (Exception e) when (e is ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }

    /// <summary>Forget a cached key after its registration changed.</summary>
    public void Invalidate(string deviceId)
    {
        if (DeviceId.TryParse(deviceId, out var id))
        {
            _keys.TryRemove(id, out _);
        }
    }

    /// <summary>Registers a never-seen device's key (only when the operator allows it); false if the ID is taken.</summary>
    public async Task<bool> RegisterUnknownAsync(DeviceId deviceId, DevicePublicKey key, string? ipAddress, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var id = deviceId.ToString();
        if (await db.Devices.AnyAsync(d => d.Id == id, cancellationToken))
        {
            return false;
        }
        db.Devices.Add(new Device { Id = id, PublicKeyPem = key.ToPem(), CreatedAt = clock.GetUtcNow().UtcDateTime });
        try
        {
            await audit.RecordAsync(db, AuditEventType.DeviceAutoRegistered, new AuditActor(null, "gateway", ipAddress), id,
                "key registered on first connection", cancellationToken);
        }
        catch (DbUpdateException)
        {
            return false;
        }
        return true;
    }

    /// <summary>Records the Hello and the connection; answers the device's owner.</summary>
    public async Task<string?> RecordHelloAsync(string deviceId, HelloPayload hello, string? ipAddress, DateTime now, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var device = await db.Devices.FirstOrDefaultAsync(d => d.Id == deviceId, cancellationToken);
        if (device is null)
        {
            return null;
        }
        device.ProductId = hello.ProductId;
        device.ProductFirmwareVersion = hello.ProductFirmwareVersion;
        device.PlatformId = hello.PlatformId;
        device.HelloFlags = (int)hello.Flags;
        device.SystemVersion = hello.SystemVersion;
        device.LastIpAddress = ipAddress;
        device.LastHandshakeAt = now;
        device.LastHeard = now;
        await db.SaveChangesAsync(cancellationToken);
        return device.OwnerUserId;
    }

    public async Task RecordDescribeAsync(string deviceId, string functionsJson, string variablesJson, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        await db.Devices.Where(d => d.Id == deviceId)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Functions, functionsJson).SetProperty(d => d.Variables, variablesJson), cancellationToken);
    }

    public async Task RecordSystemModulesAsync(string deviceId, string modulesJson, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        await db.Devices.Where(d => d.Id == deviceId).ExecuteUpdateAsync(s => s.SetProperty(d => d.SystemModules, modulesJson), cancellationToken);
    }

    public async Task RecordLastHeardAsync(string deviceId, DateTime lastHeard, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        await db.Devices.Where(d => d.Id == deviceId).ExecuteUpdateAsync(s => s.SetProperty(d => d.LastHeard, lastHeard), cancellationToken);
    }
}
