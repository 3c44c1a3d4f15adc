using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Devices;
using Bulwark.Server.Features.Groups;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Gateway.Ota;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Firmware;

/// <summary>The firmware fields of <c>PUT /v1/products/:p/devices/:id</c> (particle-api.md 3.2): <c>development</c>,
/// <c>desired_firmware_version</c> (null unlocks) with <c>flash</c> (push now if online), and <c>groups</c> (the whole
/// list; unknown groups are created). Product admission owns the endpoint's other fields (name, notes): its handler calls
/// this handler for the fields named in <see cref="Names"/>.</summary>
public sealed class ProductDeviceFirmwareFields(BulwarkDbContext db, AuditLog audit, TimeProvider clock, OtaScheduler ota)
    : ProductDevices.IProductDeviceFieldHandler
{
    public static readonly string[] Names = ["development", "desired_firmware_version", "flash", "groups"];

    public IReadOnlyList<string> FieldNames => Names;

    public bool Wants(RequestFields fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        return Names.Any(n => fields.Has(n) || fields.IsNull(n));
    }

    public Task<IResult?> ApplyAsync(RequestFields fields, HttpContext context, Product product, string deviceId, IDictionary<string, object?> response) =>
        ApplyAsync(fields, context, db, product, deviceId, response, audit, clock, ota);

    /// <summary>Applies whichever firmware fields are present, echoing them into <paramref name="response"/>, and saves with
    /// an audit record. Answers the problem to return, or null. The caller has checked that the device is the product's.</summary>
    public static async Task<IResult?> ApplyAsync(RequestFields fields, HttpContext context, BulwarkDbContext db, Product product, string deviceId,
        IDictionary<string, object?> response, AuditLog audit, TimeProvider clock, OtaScheduler ota)
    {
        ArgumentNullException.ThrowIfNull(fields);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(product);
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(audit);
        ArgumentNullException.ThrowIfNull(ota);
        var changes = new List<string>();
        var state = await db.DeviceFirmwareStates.FirstOrDefaultAsync(s => s.DeviceId == deviceId, context.RequestAborted);
        if (state is null || state.ProductId != product.Id)
        {
            if (state is not null)
            {
                db.DeviceFirmwareStates.Remove(state);
                await db.SaveChangesAsync(context.RequestAborted);
            }
            state = new DeviceFirmwareState { DeviceId = deviceId, ProductId = product.Id };
            db.DeviceFirmwareStates.Add(state);
        }
        if (fields.Bool("development") is { } development)
        {
            state.Development = development;
            response["development"] = development;
            changes.Add($"development={development}");
        }
        var flash = fields.Bool("flash") == true;
        if (fields.Has("desired_firmware_version") || fields.IsNull("desired_firmware_version"))
        {
            var desired = fields.Long("desired_firmware_version");
            if (desired is { } v)
            {
                if (!await db.ProductFirmware.AnyAsync(f => f.ProductId == product.Id && f.Version == v, context.RequestAborted))
                {
                    return ApiProblem.BadRequest($"Firmware version {v} does not exist in this product", "firmware_not_found");
                }
            }
            state.DesiredFirmwareVersion = (int?)desired;
            state.OtaRetryAt = null;
            response["desired_firmware_version"] = state.DesiredFirmwareVersion;
            changes.Add($"desired_firmware_version={state.DesiredFirmwareVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}");
        }
        if (fields.StringList("groups") is { } groupList)
        {
            var names = groupList.Select(g => g.Trim().ToLowerInvariant()).Where(g => g.Length > 0).Distinct().ToList();
            if (names.FirstOrDefault(n => !GroupEndpoints.IsValidName(n)) is { } bad)
            {
                return ApiProblem.BadRequest($"'{bad}' is not a valid group name");
            }
            var existing = await db.DeviceGroups.Where(g => g.ProductId == product.Id && names.Contains(g.Name)).ToListAsync(context.RequestAborted);
            foreach (var name in names.Where(n => existing.All(g => g.Name != n)))
            {
                var created = new DeviceGroup { Id = Ids.New(), ProductId = product.Id, Name = name, CreatedAt = clock.GetUtcNow().UtcDateTime };
                db.DeviceGroups.Add(created);
                existing.Add(created);
            }
            var productGroupIds = db.DeviceGroups.Where(g => g.ProductId == product.Id).Select(g => g.Id);
            var current = await db.DeviceGroupMembers.Where(m => m.DeviceId == deviceId && productGroupIds.Contains(m.GroupId)).ToListAsync(context.RequestAborted);
            db.DeviceGroupMembers.RemoveRange(current.Where(m => existing.All(g => g.Id != m.GroupId)));
            foreach (var group in existing.Where(g => current.All(m => m.GroupId != g.Id)))
            {
                db.DeviceGroupMembers.Add(new DeviceGroupMember { GroupId = group.Id, DeviceId = deviceId });
            }
            response["groups"] = names.Order(StringComparer.Ordinal).ToList();
            changes.Add("groups=[" + string.Join(",", names) + "]");
        }
        if (changes.Count > 0)
        {
            var caller = context.Caller();
            await audit.RecordAsync(db, AuditEventType.ProductDeviceFirmwareChanged, AuditActor.From(context, caller.UserId, caller.Username),
                deviceId, $"product {product.Id}: {string.Join(", ", changes)}", context.RequestAborted);
        }
        if (flash)
        {
            ota.RequestDevice(deviceId);
            response["flash"] = true;
        }
        return null;
    }
}
