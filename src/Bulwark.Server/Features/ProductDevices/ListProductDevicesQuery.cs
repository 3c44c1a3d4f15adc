using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Gateway;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.ProductDevices;

/// <summary><c>GET /v1/products/:p/devices</c> (devices:list): members and quarantined devices, filtered, sorted and
/// paged as particle-api.md 3.2 says. <c>?quarantined=true</c> lists only the quarantine, <c>?denied=true</c> only the
/// denied list (kept apart from the main list), <c>?unrecognized=true</c> the Device OS 4+ attempts that were not
/// pre-added. And <c>GET /v1/products/:p/devices/:id</c> (devices:get).</summary>
public static class ListProductDevicesQuery
{
    public const int DefaultPerPage = 25;
    public const int MaxPerPage = 1000;

    public static async Task<IResult> ListAsync(HttpContext context, BulwarkDbContext db, IDeviceConnectionRegistry registry)
    {
        var productId = context.Grant().Product!.Id;
        var query = context.Request.Query;
        var perPage = PositiveInt(query["perPage"].FirstOrDefault() ?? query["per_page"].FirstOrDefault() ?? query["limit"].FirstOrDefault(), "perPage")
            ?? DefaultPerPage;
        var page = PositiveInt(query["page"].FirstOrDefault(), "page") ?? 1;
        perPage = Math.Min(perPage, MaxPerPage);

        var states = db.ProductDeviceStates.AsNoTracking().Where(s => s.ProductId == productId);
        IQueryable<Device> devices;
        if (IsTrue(query["quarantined"]))
        {
            devices = ListedIn(db, states, ProductDeviceStates.Quarantined);
        }
        else if (IsTrue(query["denied"]))
        {
            devices = ListedIn(db, states, ProductDeviceStates.Denied);
        }
        else if (IsTrue(query["unrecognized"]))
        {
            devices = ListedIn(db, states, ProductDeviceStates.Unrecognized);
        }
        else
        {
            devices = db.Devices.AsNoTracking().Where(d => d.CloudProductId == productId
                || states.Any(s => s.DeviceId == d.Id && s.State == ProductDeviceStates.Quarantined));
        }
        if (query["deviceId"].FirstOrDefault() is { Length: > 0 } idPart)
        {
            var needle = idPart.Trim().ToLowerInvariant();
            devices = devices.Where(d => d.Id.Contains(needle));
        }
        if (query["deviceName"].FirstOrDefault() is { Length: > 0 } namePart)
        {
            var needle = namePart.Trim().ToLowerInvariant();
            devices = devices.Where(d => d.Name != null && d.Name.ToLower().Contains(needle));
        }
        if (query["serialNumber"].FirstOrDefault() is { Length: > 0 } serialPart)
        {
            var needle = serialPart.Trim().ToLowerInvariant();
            devices = devices.Where(d => d.SerialNumber != null && d.SerialNumber.ToLower().Contains(needle));
        }
        if (query["groups"].FirstOrDefault() is { Length: > 0 } groupList)
        {
            // Particle's filter: devices in any of the named groups (comma-separated, full names).
            var names = groupList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(n => n.ToLowerInvariant()).ToList();
            var groupIds = db.DeviceGroups.Where(g => g.ProductId == productId && names.Contains(g.Name)).Select(g => g.Id);
            devices = devices.Where(d => db.DeviceGroupMembers.Any(m => m.DeviceId == d.Id && groupIds.Contains(m.GroupId)));
        }
        var descending = string.Equals(query["sortDir"].FirstOrDefault(), "desc", StringComparison.OrdinalIgnoreCase);
        devices = (query["sortAttr"].FirstOrDefault() ?? "deviceId") switch
        {
            "deviceName" => descending ? devices.OrderByDescending(d => d.Name).ThenBy(d => d.Id) : devices.OrderBy(d => d.Name).ThenBy(d => d.Id),
            "firmwareVersion" => descending ? devices.OrderByDescending(d => d.ProductFirmwareVersion).ThenBy(d => d.Id)
                : devices.OrderBy(d => d.ProductFirmwareVersion).ThenBy(d => d.Id),
            "lastConnection" => descending ? devices.OrderByDescending(d => d.LastHeard).ThenBy(d => d.Id) : devices.OrderBy(d => d.LastHeard).ThenBy(d => d.Id),
            "deviceId" => descending ? devices.OrderByDescending(d => d.Id) : devices.OrderBy(d => d.Id),
            _ => throw ApiRequestException.BadRequest("sortAttr must be deviceName, deviceId, firmwareVersion or lastConnection"),
        };
        var total = await devices.CountAsync(context.RequestAborted);
        var pageItems = await devices.Skip((page - 1) * perPage).Take(perPage).ToListAsync(context.RequestAborted);
        var views = await ViewsAsync(db, registry, productId, pageItems, context.RequestAborted);
        return TypedResults.Json(new Dictionary<string, object?>
        {
            ["devices"] = views,
            ["customers"] = Array.Empty<object>(),
            ["meta"] = new Dictionary<string, object?> { ["total_pages"] = (total + perPage - 1) / perPage, ["total"] = total, ["page"] = page, ["per_page"] = perPage },
        }, ApiJson.Options);
    }

    public static async Task<IResult> GetAsync(string deviceId, HttpContext context, BulwarkDbContext db, IDeviceConnectionRegistry registry)
    {
        var productId = context.Grant().Product!.Id;
        var device = await FindInProductAsync(db, productId, deviceId, context.RequestAborted);
        if (device is null)
        {
            return ApiProblem.NotFound("Device not found in this product");
        }
        return TypedResults.Json((await ViewsAsync(db, registry, productId, [device], context.RequestAborted))[0], ApiJson.Options);
    }

    /// <summary>A device the product holds, or lists (quarantined or denied); null for any other.</summary>
    internal static async Task<Device?> FindInProductAsync(BulwarkDbContext db, int productId, string deviceId, CancellationToken cancellationToken)
    {
        var id = deviceId.Trim().ToLowerInvariant();
        var device = await db.Devices.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id, cancellationToken);
        var listed = await db.ProductDeviceStates.AnyAsync(s => s.ProductId == productId && s.DeviceId == id, cancellationToken);
        return device is null || (device.CloudProductId != productId && !listed) ? null : device;
    }

    internal static async Task<List<Dictionary<string, object?>>> ViewsAsync(BulwarkDbContext db, IDeviceConnectionRegistry registry, int productId,
        IReadOnlyList<Device> devices, CancellationToken cancellationToken)
    {
        var ids = devices.Select(d => d.Id).ToList();
        var states = await db.ProductDeviceStates.AsNoTracking().Where(s => s.ProductId == productId && ids.Contains(s.DeviceId))
            .ToDictionaryAsync(s => s.DeviceId, cancellationToken);
        var ownerIds = devices.Where(d => d.OwnerUserId != null).Select(d => d.OwnerUserId!).Distinct().ToList();
        var owners = await db.Users.AsNoTracking().Where(u => ownerIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Username, cancellationToken);
        return devices.Select(d => ProductDeviceView.From(d, productId, states.GetValueOrDefault(d.Id), registry.Find(d.Id),
            d.OwnerUserId is null ? null : owners.GetValueOrDefault(d.OwnerUserId))).ToList();
    }

    private static IQueryable<Device> ListedIn(BulwarkDbContext db, IQueryable<ProductDeviceState> states, string state) =>
        db.Devices.AsNoTracking().Where(d => states.Any(s => s.DeviceId == d.Id && s.State == state));

    private static bool IsTrue(Microsoft.Extensions.Primitives.StringValues value) =>
        value.FirstOrDefault() is { } s && (s == "1" || s.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static int? PositiveInt(string? text, string name)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw ApiRequestException.BadRequest($"{name} must be a positive whole number");
    }
}
