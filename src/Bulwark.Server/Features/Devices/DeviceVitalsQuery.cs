using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.DeviceProtection;
using Bulwark.Server.Features.ProductDevices;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Gateway;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Devices;

/// <summary>Device vitals, <c>GET /v1/diagnostics/:deviceId/last</c> and <c>GET /v1/products/:p/diagnostics/:deviceId/last</c>
/// (particle-api.md 13): Particle's <c>{diagnostics: {updated_at, deviceID, payload}}</c>, with a payload of what this cloud
/// really knows: the connection, when it last heard from the device and from where, the Device OS and firmware the device
/// reported, and its Device Protection state. Bulwark does not ask devices for their diagnostics (no signal, battery or
/// memory figures), so none are invented. Who may read: the owner, or the product's team with <c>devices.diagnostics:get</c>;
/// anyone else gets 404, as for the device itself.</summary>
public static class DeviceVitalsQuery
{
    public static IEndpointRouteBuilder MapDeviceVitalsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/diagnostics/{deviceId}/last", GetAsync).RequireAuthorization();
        app.MapGet("/v1/products/{productIdOrSlug}/diagnostics/{deviceId}/last", GetProductDeviceAsync).RequirePermission(Scopes.DevicesDiagnosticsGet);
        return app;
    }

    private static async Task<IResult> GetAsync(string deviceId, HttpContext context, BulwarkDbContext db, ProductAccess access,
        IDeviceConnectionRegistry registry, DeviceProtectionService protection)
    {
        var device = await DeviceEndpoints.FindOwnedAsync(db, context, deviceId, tracking: false);
        if (device is null)
        {
            var id = deviceId.Trim().ToLowerInvariant();
            device = await db.Devices.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id, context.RequestAborted);
            if (device?.CloudProductId is not { } productId)
            {
                return DeviceNotFound();
            }
            // A product device: its team reads it, whoever claimed it. Outside the team the product is not named.
            var decision = await access.ForProductAsync(context, productId.ToString(System.Globalization.CultureInfo.InvariantCulture), Scopes.DevicesDiagnosticsGet);
            if (!decision.Allowed)
            {
                return decision.Problem is IStatusCodeHttpResult { StatusCode: 404 } ? DeviceNotFound() : decision.Problem!;
            }
        }
        return await VitalsAsync(context, db, registry, protection, device);
    }

    private static async Task<IResult> GetProductDeviceAsync(string deviceId, HttpContext context, BulwarkDbContext db,
        IDeviceConnectionRegistry registry, DeviceProtectionService protection)
    {
        var device = await ListProductDevicesQuery.FindInProductAsync(db, context.Grant().Product!.Id, deviceId, context.RequestAborted);
        return device is null ? ApiProblem.NotFound("Device not found in this product")
            : await VitalsAsync(context, db, registry, protection, device);
    }

    private static async Task<IResult> VitalsAsync(HttpContext context, BulwarkDbContext db, IDeviceConnectionRegistry registry,
        DeviceProtectionService protection, Device device)
    {
        // Recomputed so that a Service Mode that has run out is not shown as current.
        var status = await protection.RefreshAsync(db, device.Id, context.RequestAborted);
        var record = await db.Set<DeviceProtectionRecord>().AsNoTracking().FirstOrDefaultAsync(r => r.DeviceId == device.Id, context.RequestAborted);
        return TypedResults.Json(new Dictionary<string, object?>
        {
            ["diagnostics"] = DeviceVitalsView.From(device, registry.Find(device.Id), status, record),
        }, ApiJson.Options);
    }

    private static IResult DeviceNotFound() => ApiProblem.NotFound("Device not found");
}

/// <summary>The vitals object (pure): see <see cref="DeviceVitalsQuery"/>.</summary>
internal static class DeviceVitalsView
{
    public static Dictionary<string, object?> From(Device d, IDeviceConnection? connection, ProtectionStatus status, DeviceProtectionRecord? record)
    {
        var online = connection is not null;
        var lastHeard = connection?.LastHeard ?? d.LastHeard;
        DateTime? serviceModeUntil = record?.ServiceModeStartedAt is { } started ? started + ProtectionStatusRules.ServiceModeDuration : null;
        var payload = new Dictionary<string, object?>
        {
            ["device"] = new Dictionary<string, object?>
            {
                ["cloud"] = new Dictionary<string, object?>
                {
                    ["connection"] = new Dictionary<string, object?>
                    {
                        ["status"] = online ? "connected" : "disconnected",
                        ["connected_at"] = DeviceView.Time(connection?.ConnectedAt),
                    },
                },
                ["system"] = new Dictionary<string, object?>
                {
                    ["platform_id"] = d.PlatformId,
                    ["device_os_version"] = DeviceView.SystemVersionText(d.SystemVersion),
                    ["device_os_module_version"] = d.SystemVersion,
                    ["bootloader_version"] = DeviceProtectionService.BootloaderVersion(d.SystemModules),
                    ["firmware_version"] = d.ProductFirmwareVersion,
                },
            },
            ["online"] = online,
            ["last_heard"] = DeviceView.Time(lastHeard),
            ["last_handshake_at"] = DeviceView.Time(d.LastHandshakeAt),
            ["last_ip_address"] = connection?.RemoteAddress ?? d.LastIpAddress,
            ["device_protection"] = new Dictionary<string, object?>
            {
                ["status"] = ProtectionStatusRules.Text(status),
                // Null: the device never sent a system Describe saying either way.
                ["reported_protected"] = record?.ReportedProtected,
                ["reported_at"] = DeviceView.Time(record?.ReportedAt),
                ["service_mode_until"] = status == ProtectionStatus.ServiceMode ? DeviceView.Time(serviceModeUntil) : null,
                ["service_mode_resets_left"] = status == ProtectionStatus.ServiceMode
                    ? ProtectionStatusRules.ServiceModeMaxResets - record!.ServiceModeResets
                    : null,
            },
        };
        return new Dictionary<string, object?>
        {
            // The newest thing the cloud learned about the device; null when it has never connected.
            ["updated_at"] = DeviceView.Time(Latest(lastHeard, d.LastHandshakeAt, record?.ReportedAt)),
            ["deviceID"] = d.Id,
            ["payload"] = payload,
        };
    }

    private static DateTime? Latest(params DateTime?[] times) => times.Max();
}
