using Bulwark.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Firmware;

/// <summary>Which devices are a product's, and whether one may be sent the product's firmware. Product admission owns
/// membership; firmware, groups and OTA only ask through here.</summary>
public interface IProductFleet
{
    /// <summary>The product's member devices, as a query the caller can filter and project.</summary>
    IQueryable<Device> Members(BulwarkDbContext db, int productId);

    /// <summary>True when the device may be sent <paramref name="productId"/>'s firmware (a member, not quarantined or
    /// denied). Called before every product OTA.</summary>
    Task<bool> MayReceiveProductFirmwareAsync(BulwarkDbContext db, string deviceId, int productId, CancellationToken cancellationToken);
}

/// <summary>Membership as product admission records it: members carry the product in <see cref="Device.CloudProductId"/>;
/// only devices with full product privileges (not quarantined, denied or limited) may be sent product firmware.</summary>
public sealed class AdmissionProductFleet(Admission.IProductPrivileges privileges) : IProductFleet
{
    public IQueryable<Device> Members(BulwarkDbContext db, int productId)
    {
        ArgumentNullException.ThrowIfNull(db);
        return db.Devices.Where(d => d.CloudProductId == productId);
    }

    public Task<bool> MayReceiveProductFirmwareAsync(BulwarkDbContext db, string deviceId, int productId, CancellationToken cancellationToken) =>
        privileges.HasProductPrivilegesAsync(deviceId, productId, cancellationToken);
}

/// <summary>Loads the inputs of <see cref="FirmwareUpdatePolicy"/> from the database.</summary>
public static class FirmwareFacts
{
    public static async Task<ProductReleases> ReleasesAsync(BulwarkDbContext db, int productId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var firmware = await db.ProductFirmware.AsNoTracking().Where(f => f.ProductId == productId)
            .Select(f => new { f.Version, f.RequiredSystemVersion, f.ProductDefault }).ToListAsync(cancellationToken);
        var groups = await db.DeviceGroups.AsNoTracking().Where(g => g.ProductId == productId && g.FirmwareVersion != null)
            .Select(g => new { g.Name, g.FirmwareVersion }).ToListAsync(cancellationToken);
        return new ProductReleases(
            firmware.Where(f => f.ProductDefault).Select(f => (int?)f.Version).FirstOrDefault(),
            groups.ToDictionary(g => g.Name, g => g.FirmwareVersion!.Value, StringComparer.Ordinal),
            firmware.ToDictionary(f => f.Version, f => new FirmwareCandidate(f.Version, f.RequiredSystemVersion)));
    }

    /// <summary>The firmware facts of the given devices (all of the product's when <paramref name="deviceIds"/> is null).</summary>
    public static async Task<Dictionary<string, DeviceFirmwareFacts>> DevicesAsync(BulwarkDbContext db, IProductFleet fleet, int productId,
        IReadOnlyCollection<string>? deviceIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(fleet);
        var members = fleet.Members(db, productId).AsNoTracking();
        if (deviceIds is not null)
        {
            members = members.Where(d => deviceIds.Contains(d.Id));
        }
        var devices = await members.Select(d => new { d.Id, d.ProductFirmwareVersion, d.SystemVersion }).ToListAsync(cancellationToken);
        var ids = devices.Select(d => d.Id).ToList();
        var states = await db.DeviceFirmwareStates.AsNoTracking().Where(s => ids.Contains(s.DeviceId) && s.ProductId == productId)
            .ToDictionaryAsync(s => s.DeviceId, cancellationToken);
        var groups = (await (from m in db.DeviceGroupMembers.AsNoTracking()
                             join g in db.DeviceGroups.AsNoTracking() on m.GroupId equals g.Id
                             where g.ProductId == productId && ids.Contains(m.DeviceId)
                             select new { m.DeviceId, g.Name }).ToListAsync(cancellationToken))
            .ToLookup(x => x.DeviceId, x => x.Name);
        return devices.ToDictionary(d => d.Id, d =>
        {
            var state = states.GetValueOrDefault(d.Id);
            return new DeviceFirmwareFacts(d.ProductFirmwareVersion, d.SystemVersion, state?.Development ?? false,
                state?.DesiredFirmwareVersion, groups[d.Id].ToList());
        });
    }
}
