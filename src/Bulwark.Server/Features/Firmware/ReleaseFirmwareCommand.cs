using System.Globalization;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Gateway.Ota;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Firmware;

/// <summary><c>PUT /v1/products/:p/firmware/release</c> <c>{version, product_default?, groups?, intelligent?}</c>, and the
/// preview <c>GET /v1/products/:p/impact</c> that runs the same change through <see cref="FirmwareUpdatePolicy"/> without
/// saving it.</summary>
public static class ReleaseFirmwareCommand
{
    public static async Task<IResult> HandleAsync(HttpContext context, BulwarkDbContext db, IProductFleet fleet, AuditLog audit,
        TimeProvider clock, OtaScheduler ota)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var product = context.Grant().Product!;
        if (fields.Long("version") is not { } requested || requested is < 1 or > 65535)
        {
            return ApiProblem.BadRequest("The field 'version' is required: the firmware version to release");
        }
        var version = (int)requested;
        var productDefault = fields.Bool("product_default");
        var groupNames = fields.StringList("groups")?.Select(g => g.Trim().ToLowerInvariant()).Where(g => g.Length > 0).Distinct().ToList();
        var intelligent = fields.Bool("intelligent");
        var firmware = await db.ProductFirmware.FirstOrDefaultAsync(f => f.ProductId == product.Id && f.Version == version, context.RequestAborted);
        if (firmware is null)
        {
            return FirmwareEndpoints.FirmwareNotFound(version);
        }
        var groups = await db.DeviceGroups.Where(g => g.ProductId == product.Id).ToListAsync(context.RequestAborted);
        if (groupNames is not null && groupNames.FirstOrDefault(n => groups.All(g => g.Name != n)) is { } unknown)
        {
            return ApiProblem.BadRequest($"No group named '{unknown}' in this product", "group_not_found");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        Apply(firmware, productDefault, groupNames, groups, await db.ProductFirmware.Where(f => f.ProductId == product.Id && f.ProductDefault && f.Version != version)
            .ToListAsync(context.RequestAborted));
        if (intelligent is { } i)
        {
            firmware.Intelligent = i;
        }
        if (firmware.ProductDefault || groups.Any(g => g.FirmwareVersion == version))
        {
            firmware.FirstReleasedAt ??= now;
        }
        firmware.UpdatedAt = now;
        var caller = context.Caller();
        var released = string.Join(",", groups.Where(g => g.FirmwareVersion == version).Select(g => g.Name).Order(StringComparer.Ordinal));
        await audit.RecordAsync(db, AuditEventType.FirmwareReleased, AuditActor.From(context, caller.UserId, caller.Username),
            ProductAccess.ProductSubject(product.Id),
            $"version {version}: product_default={firmware.ProductDefault}, groups=[{released}], intelligent={firmware.Intelligent}", context.RequestAborted);
        if (firmware.Intelligent)
        {
            ota.RequestProduct(product.Id);
        }
        return TypedResults.Json(await FirmwareView.OneAsync(db, fleet, firmware, context.RequestAborted), ApiJson.Options);
    }

    /// <summary>Moves the product default and the group releases; the group list, when given, is the firmware's whole set.</summary>
    private static void Apply(ProductFirmware firmware, bool? productDefault, IReadOnlyList<string>? groupNames, IReadOnlyList<DeviceGroup> groups,
        IReadOnlyList<ProductFirmware> otherDefaults)
    {
        if (productDefault is true)
        {
            foreach (var other in otherDefaults)
            {
                other.ProductDefault = false;
            }
            firmware.ProductDefault = true;
        }
        else if (productDefault is false)
        {
            firmware.ProductDefault = false;
        }
        if (groupNames is null)
        {
            return;
        }
        foreach (var group in groups)
        {
            if (groupNames.Contains(group.Name))
            {
                group.FirmwareVersion = firmware.Version;
            }
            else if (group.FirmwareVersion == firmware.Version)
            {
                group.FirmwareVersion = null;
            }
        }
    }

    /// <summary><c>GET /v1/products/:p/impact?action=edit_groups_for_firmware&amp;firmware_version=N&amp;groups=a,b&amp;product_default=bool</c>:
    /// the devices that would be sent version N, counted by the version they run now.</summary>
    public static async Task<IResult> ImpactAsync(HttpContext context, BulwarkDbContext db, IProductFleet fleet)
    {
        var product = context.Grant().Product!;
        var query = context.Request.Query;
        var action = query["action"].ToString();
        if (action.Length > 0 && action != "edit_groups_for_firmware")
        {
            return ApiProblem.BadRequest("The only impact action is edit_groups_for_firmware");
        }
        if (!int.TryParse(query["firmware_version"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            return ApiProblem.BadRequest("The query parameter 'firmware_version' is required");
        }
        bool? productDefault = query["product_default"].ToString() switch
        {
            "true" or "1" => true,
            "false" or "0" => false,
            _ => null,
        };
        var groupNames = query.ContainsKey("groups")
            ? query["groups"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(g => g.ToLowerInvariant()).ToList()
            : null;

        var before = await FirmwareFacts.ReleasesAsync(db, product.Id, context.RequestAborted);
        var groupVersions = new Dictionary<string, int>(before.GroupVersions, StringComparer.Ordinal);
        if (groupNames is not null)
        {
            foreach (var (name, v) in before.GroupVersions.Where(g => g.Value == version && !groupNames.Contains(g.Key)).ToList())
            {
                groupVersions.Remove(name);
            }
            foreach (var name in groupNames)
            {
                groupVersions[name] = version;
            }
        }
        var after = before with
        {
            GroupVersions = groupVersions,
            ProductDefaultVersion = productDefault switch
            {
                true => version,
                false when before.ProductDefaultVersion == version => null,
                _ => before.ProductDefaultVersion,
            },
        };
        var devices = await FirmwareFacts.DevicesAsync(db, fleet, product.Id, null, context.RequestAborted);
        var moved = devices.Values
            .Where(d => FirmwareUpdatePolicy.Decide(d, after) is { Action: UpdateAction.Flash, TargetVersion: var t } && t == version)
            .GroupBy(d => d.RunningVersion)
            .Select(g => new VersionCount(g.Key, g.Count()))
            .OrderBy(v => v.Version)
            .ToList();
        return TypedResults.Json(new ImpactResponse(new ImpactDevices(new FirmwareUpdateImpact(moved.Sum(m => m.Total), moved))), ApiJson.Options);
    }
}
