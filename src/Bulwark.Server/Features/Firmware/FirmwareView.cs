using Bulwark.Contracts;
using Bulwark.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Firmware;

/// <summary>Builds Particle's firmware object: the row plus the groups it is released to and how many devices run it.</summary>
internal static class FirmwareView
{
    public static async Task<List<FirmwareResponse>> ManyAsync(BulwarkDbContext db, IProductFleet fleet, int productId,
        IReadOnlyList<ProductFirmware> firmware, CancellationToken cancellationToken)
    {
        var groups = (await db.DeviceGroups.AsNoTracking().Where(g => g.ProductId == productId && g.FirmwareVersion != null)
            .Select(g => new { g.Name, g.FirmwareVersion }).ToListAsync(cancellationToken)).ToLookup(g => g.FirmwareVersion!.Value, g => g.Name);
        var running = (await fleet.Members(db, productId).AsNoTracking().Where(d => d.ProductFirmwareVersion != null)
            .GroupBy(d => d.ProductFirmwareVersion).Select(g => new { Version = g.Key, Count = g.Count() }).ToListAsync(cancellationToken))
            .ToDictionary(x => x.Version!.Value, x => x.Count);
        return firmware.Select(f => new FirmwareResponse(f.Id, f.Version, f.Title, f.Description, f.FileName, f.Size, f.ProductDefault,
            groups[f.Version].Order(StringComparer.Ordinal).ToList(), f.Mandatory, f.Intelligent, f.UploadedAt, f.ProductId,
            new FirmwareUploader(f.UploadedByName), running.GetValueOrDefault(f.Version), f.UpdatedAt, f.FirstReleasedAt is not null,
            f.PlatformId, f.Sha256, f.RequiredSystemVersion, f.IsProtected)).ToList();
    }

    public static async Task<FirmwareResponse> OneAsync(BulwarkDbContext db, IProductFleet fleet, ProductFirmware firmware, CancellationToken cancellationToken) =>
        (await ManyAsync(db, fleet, firmware.ProductId, [firmware], cancellationToken))[0];
}
