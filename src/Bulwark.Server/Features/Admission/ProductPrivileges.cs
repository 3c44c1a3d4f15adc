using System.Collections.Concurrent;
using Bulwark.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Admission;

/// <summary>The one question OTA, webhooks, customer claiming and the product event stream ask: does this device hold
/// full product privileges in this product right now? Quarantined, denied, limited and unrecognized devices do not.</summary>
public interface IProductPrivileges
{
    /// <summary>From memory (kept current by the gateway's admission and by every approve, deny and remove on this
    /// node); false when the device is not known here. For a hot path such as every published event.</summary>
    bool HasProductPrivileges(string deviceId, int productId);

    /// <summary>The product in which the device holds full privileges, from memory; null when none.</summary>
    int? FullPrivilegeProductOf(string deviceId);

    /// <summary>Authoritative: reads the database (and refreshes memory). For decisions about offline devices.</summary>
    Task<bool> HasProductPrivilegesAsync(string deviceId, int productId, CancellationToken cancellationToken);
}

/// <summary>Single-node implementation: the database is the truth, memory a write-through copy. Several nodes would
/// need the bus to carry <see cref="Set"/> to the node holding the device's connection (not built yet).</summary>
public sealed class ProductPrivileges(IServiceScopeFactory scopes) : IProductPrivileges
{
    private readonly ConcurrentDictionary<string, int> _full = new(StringComparer.Ordinal);

    public bool HasProductPrivileges(string deviceId, int productId) => _full.TryGetValue(deviceId, out var p) && p == productId;

    public int? FullPrivilegeProductOf(string deviceId) => _full.TryGetValue(deviceId, out var p) ? p : null;

    public async Task<bool> HasProductPrivilegesAsync(string deviceId, int productId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var row = await db.Devices.AsNoTracking().Where(d => d.Id == deviceId)
            .Select(d => new { d.CloudProductId, d.ProductPrivileges }).FirstOrDefaultAsync(cancellationToken);
        Set(deviceId, row?.ProductPrivileges == ProductPrivilegeLevel.Full ? row.CloudProductId : null);
        return row is not null && row.CloudProductId == productId && row.ProductPrivileges == ProductPrivilegeLevel.Full;
    }

    /// <summary>Records the product the device now has full privileges in (null: none).</summary>
    public void Set(string deviceId, int? fullPrivilegeProductId)
    {
        if (fullPrivilegeProductId is { } p)
        {
            _full[deviceId] = p;
        }
        else
        {
            _full.TryRemove(deviceId, out _);
        }
    }
}
