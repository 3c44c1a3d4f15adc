using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Gateway.Ota;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bulwark.Server.Features.Firmware;

/// <summary>Product firmware (particle-api.md 5.1): upload, list, get, edit, download, delete while never released,
/// release to the product default and groups, and the impact preview.</summary>
public static class FirmwareEndpoints
{
    public static IServiceCollection AddFirmware(this IServiceCollection services)
    {
        services.TryAddSingleton<IProductFleet, AdmissionProductFleet>();
        services.AddScoped<ProductDevices.IProductDeviceFieldHandler, ProductDeviceFirmwareFields>();
        services.AddOtaDelivery();
        return services;
    }

    public static IEndpointRouteBuilder MapFirmwareEndpoints(this IEndpointRouteBuilder app)
    {
        var firmware = app.MapGroup("/v1/products/{productIdOrSlug}/firmware");
        firmware.MapGet("", ListAsync).RequirePermission(Scopes.FirmwareList);
        firmware.MapPost("", UploadFirmwareCommand.HandleAsync).RequirePermission(Scopes.FirmwareCreate);
        firmware.MapPut("/release", ReleaseFirmwareCommand.HandleAsync).RequirePermission(Scopes.FirmwareRelease);
        firmware.MapGet("/{version:int}", GetAsync).RequirePermission(Scopes.FirmwareGet);
        firmware.MapPut("/{version:int}", EditAsync).RequirePermission(Scopes.FirmwareUpdate);
        firmware.MapDelete("/{version:int}", DeleteAsync).RequirePermission(Scopes.FirmwareRemove);
        firmware.MapGet("/{version:int}/binary", DownloadAsync).RequirePermission(Scopes.FirmwareBinaryGet);
        app.MapGet("/v1/products/{productIdOrSlug}/impact", ReleaseFirmwareCommand.ImpactAsync).RequirePermission(Scopes.GroupsImpactGet);
        app.MapGet("/v1/products/{productIdOrSlug}/devices/{deviceId}/firmware", DeviceFirmwareAsync).RequirePermission(Scopes.DevicesGet);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext context, BulwarkDbContext db, IProductFleet fleet)
    {
        var product = context.Grant().Product!;
        var rows = await db.ProductFirmware.AsNoTracking().Where(f => f.ProductId == product.Id).OrderBy(f => f.Version).ToListAsync(context.RequestAborted);
        return TypedResults.Json(await FirmwareView.ManyAsync(db, fleet, product.Id, rows, context.RequestAborted), ApiJson.Options);
    }

    private static async Task<IResult> GetAsync(int version, HttpContext context, BulwarkDbContext db, IProductFleet fleet)
    {
        var product = context.Grant().Product!;
        var row = await db.ProductFirmware.AsNoTracking().FirstOrDefaultAsync(f => f.ProductId == product.Id && f.Version == version, context.RequestAborted);
        return row is null ? FirmwareNotFound(version) : TypedResults.Json(await FirmwareView.OneAsync(db, fleet, row, context.RequestAborted), ApiJson.Options);
    }

    private static async Task<IResult> EditAsync(int version, HttpContext context, BulwarkDbContext db, IProductFleet fleet, AuditLog audit, TimeProvider clock)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var product = context.Grant().Product!;
        var row = await db.ProductFirmware.FirstOrDefaultAsync(f => f.ProductId == product.Id && f.Version == version, context.RequestAborted);
        if (row is null)
        {
            return FirmwareNotFound(version);
        }
        var changed = new List<string>();
        if (fields.Has("title"))
        {
            var title = fields.String("title")?.Trim() ?? "";
            if (title.Length is 0 or > UploadFirmwareCommand.MaxTitleLength)
            {
                return ApiProblem.BadRequest($"The title must be 1 to {UploadFirmwareCommand.MaxTitleLength} characters");
            }
            row.Title = title;
            changed.Add("title");
        }
        if (fields.Has("description"))
        {
            var description = fields.String("description") ?? "";
            if (description.Length > UploadFirmwareCommand.MaxDescriptionLength)
            {
                return ApiProblem.BadRequest($"The description is limited to {UploadFirmwareCommand.MaxDescriptionLength} characters");
            }
            row.Description = description;
            changed.Add("description");
        }
        if (fields.Bool("mandatory") is { } mandatory)
        {
            row.Mandatory = mandatory;
            changed.Add("mandatory");
        }
        if (changed.Count == 0)
        {
            return ApiProblem.BadRequest("Nothing to change: send title, description or mandatory");
        }
        row.UpdatedAt = clock.GetUtcNow().UtcDateTime;
        var caller = context.Caller();
        await audit.RecordAsync(db, AuditEventType.FirmwareEdited, AuditActor.From(context, caller.UserId, caller.Username),
            ProductAccess.ProductSubject(product.Id), $"version {version}: changed {string.Join(", ", changed)}", context.RequestAborted);
        return TypedResults.Json(await FirmwareView.OneAsync(db, fleet, row, context.RequestAborted), ApiJson.Options);
    }

    private static async Task<IResult> DeleteAsync(int version, HttpContext context, BulwarkDbContext db, AuditLog audit)
    {
        var product = context.Grant().Product!;
        var row = await db.ProductFirmware.FirstOrDefaultAsync(f => f.ProductId == product.Id && f.Version == version, context.RequestAborted);
        if (row is null)
        {
            return FirmwareNotFound(version);
        }
        if (row.FirstReleasedAt is not null)
        {
            return ApiProblem.BadRequest($"Firmware version {version} has been released and cannot be deleted", "firmware_released");
        }
        if (await db.DeviceFirmwareStates.AnyAsync(s => s.ProductId == product.Id && s.DesiredFirmwareVersion == version, context.RequestAborted))
        {
            return ApiProblem.BadRequest($"Devices are locked to firmware version {version}; unlock them first", "firmware_in_use");
        }
        await db.ProductFirmwareBinaries.Where(b => b.ProductId == product.Id && b.Version == version).ExecuteDeleteAsync(context.RequestAborted);
        db.ProductFirmware.Remove(row);
        var caller = context.Caller();
        await audit.RecordAsync(db, AuditEventType.FirmwareDeleted, AuditActor.From(context, caller.UserId, caller.Username),
            ProductAccess.ProductSubject(product.Id), $"version {version} ({row.Sha256})", context.RequestAborted);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> DownloadAsync(int version, HttpContext context, BulwarkDbContext db)
    {
        var product = context.Grant().Product!;
        var row = await db.ProductFirmware.AsNoTracking().Where(f => f.ProductId == product.Id && f.Version == version)
            .Select(f => new { f.FileName }).FirstOrDefaultAsync(context.RequestAborted);
        var data = row is null ? null : await db.ProductFirmwareBinaries.AsNoTracking().Where(b => b.ProductId == product.Id && b.Version == version)
            .Select(b => b.Data).FirstOrDefaultAsync(context.RequestAborted);
        return data is null ? FirmwareNotFound(version) : TypedResults.File(data, "application/octet-stream", row!.FileName);
    }

    /// <summary>A product device's firmware fields and its last OTA (status, attempts, error, next retry).</summary>
    private static async Task<IResult> DeviceFirmwareAsync(string deviceId, HttpContext context, BulwarkDbContext db, IProductFleet fleet)
    {
        var product = context.Grant().Product!;
        var id = deviceId.Trim().ToLowerInvariant();
        if (!await fleet.Members(db, product.Id).AnyAsync(d => d.Id == id, context.RequestAborted))
        {
            return ApiProblem.NotFound("Device not found in this product");
        }
        var fields = await DeviceFirmwareView.FieldsAsync(db, fleet, product.Id, id, context.RequestAborted);
        fields["id"] = id;
        return TypedResults.Json(fields, ApiJson.Options);
    }

    internal static IResult FirmwareNotFound(int version) =>
        ApiProblem.NotFound($"Firmware version {version.ToString(System.Globalization.CultureInfo.InvariantCulture)} not found");
}
