using System.Security.Cryptography;
using Bulwark.Firmware;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Features.Devices;
using Bulwark.Server.Features.Firmware;
using Bulwark.Server.Features.Keys;
using Bulwark.Server.Features.Products;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Gateway.Ota;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.DeviceProtection;

/// <summary>Device Protection's API (particle-api.md 4): enabling it on a product (through <c>PUT /v1/products/:p</c>, see
/// <see cref="ApplyProductSettingAsync"/>), Service Mode (<c>PUT /v1/devices/:id/unprotect</c> and the product path), the
/// product's fleet report, and the operator's Device OS module catalogue the protected bootloader comes from.</summary>
public static class DeviceProtectionEndpoints
{
    public const string Active = "active";
    public const string Disabled = "disabled";

    /// <summary>The error code of a Service Mode prepare for a device the cloud does not know to be protected.</summary>
    public const string NotProtected = "device_not_protected";

    public static IServiceCollection AddDeviceProtection(this IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<IConfiguration>().GetSection(DeviceProtectionOptions.Section).Get<DeviceProtectionOptions>()
            ?? new DeviceProtectionOptions());
        services.AddSingleton<DeviceProtectionService>();
        services.AddSingleton<IServiceModeSigner>(sp => new ServerKeyServiceModeSigner(sp.GetRequiredService<ServerKeyStore>()));
        services.AddSingleton<ServiceModeAuthorizer>();
        return services;
    }

    public static IEndpointRouteBuilder MapDeviceProtectionEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPut("/v1/devices/{deviceId}/unprotect", UnprotectUserDeviceAsync).RequireAuthorization();
        app.MapPut("/v1/products/{productIdOrSlug}/devices/{deviceId}/unprotect", UnprotectProductDeviceAsync).RequirePermission(Scopes.DevicesUnprotect);
        app.MapGet("/v1/products/{productIdOrSlug}/device-protection", ReportAsync).RequirePermission(Scopes.DevicesList);
        app.MapPost("/v1/device-os/modules", ImportModuleAsync).RequireAuthorization().DisableAntiforgery();
        app.MapGet("/v1/device-os/modules", ListModulesAsync).RequireAuthorization();
        return app;
    }

    /// <summary>The <c>device_protection</c> field of <c>PUT /v1/products/:p</c>: <c>"active"</c> turns it on (owner or
    /// administrator, a capable organization, a platform that supports it); turning it off is refused. Null problem: done
    /// (<paramref name="changed"/> tells whether anything changed).</summary>
    public static async Task<(IResult? Problem, bool Changed)> ApplyProductSettingAsync(HttpContext context, BulwarkDbContext db, AuditLog audit,
        Product product, RequestFields fields)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(product);
        ArgumentNullException.ThrowIfNull(fields);
        var grant = context.Grant();
        var requested = fields.String("device_protection")?.Trim().ToLowerInvariant()
            ?? (fields.Bool("device_protection") is { } on ? (on ? Active : Disabled) : null);
        var protectedNow = await DeviceProtectionService.IsProductProtectedAsync(db, product.Id, context.RequestAborted);
        var actor = AuditActor.From(context, grant.Caller.UserId, grant.Caller.Username);
        switch (requested)
        {
            case Active or "enabled" or "on":
                break;
            case Disabled or "off" or "inactive" or "":
                if (!protectedNow)
                {
                    return (null, false);
                }
                await audit.RecordAsync(db, AuditEventType.DeviceProtectionChangeRefused, actor, grant.AuditSubject,
                    "refused: turning Device Protection off", context.RequestAborted);
                return (ApiProblem.Create(409, "device_protection_irreversible",
                    "Device Protection cannot be turned off once it is active on a product; move devices to another product for development"), false);
            default:
                return (ApiProblem.BadRequest("device_protection must be \"active\""), false);
        }
        if (protectedNow)
        {
            return (null, false);
        }
        if (grant.Role is not (TeamRole.Owner or TeamRole.Administrator))
        {
            return (ApiProblem.Forbidden("Only the product's owner or an administrator may enable Device Protection", "device_protection_forbidden"), false);
        }
        var platform = Platforms.Find(product.PlatformId);
        if (platform is not { DeviceProtection: true })
        {
            return (ApiProblem.BadRequest(
                $"The {platform?.DisplayName ?? product.PlatformId.ToString(System.Globalization.CultureInfo.InvariantCulture)} platform does not support Device Protection (Gen3 and later only)",
                "device_protection_unsupported_platform"), false);
        }
        var service = context.RequestServices.GetRequiredService<DeviceProtectionService>();
        if (!service.MayEnable(product, grant.Organization))
        {
            return (ApiProblem.Forbidden("This organization does not hold the Device Protection capability", "device_protection_not_available"), false);
        }
        db.Add(new ProductProtection
        {
            ProductId = product.Id,
            EnabledAt = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime,
            EnabledById = grant.Caller.UserId,
            EnabledByName = grant.Caller.Username,
        });
        await audit.RecordAsync(db, AuditEventType.DeviceProtectionEnabled, actor, grant.AuditSubject,
            "Device Protection enabled (irreversible)", context.RequestAborted);
        await service.RefreshProductAsync(db, product.Id, context.RequestAborted);
        context.RequestServices.GetRequiredService<OtaScheduler>().RequestProduct(product.Id);
        return (null, true);
    }

    /// <summary><c>device_protection</c> for product objects.</summary>
    public static async Task<HashSet<int>> ProtectedProductsAsync(BulwarkDbContext db, IReadOnlyCollection<int> productIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var ids = productIds.ToList();
        return (await db.Set<ProductProtection>().AsNoTracking().Where(p => ids.Contains(p.ProductId)).Select(p => p.ProductId).ToListAsync(cancellationToken)).ToHashSet();
    }

    private static async Task<IResult> UnprotectUserDeviceAsync(string deviceId, HttpContext context, BulwarkDbContext db, ProductAccess access)
    {
        var id = deviceId.Trim().ToLowerInvariant();
        var device = await db.Devices.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id, context.RequestAborted);
        if (device is null)
        {
            return DeviceEndpointsNotFound();
        }
        if (device.CloudProductId is { } productId)
        {
            // A product device: the product team decides, whoever claimed it.
            var decision = await access.ForProductAsync(context, productId.ToString(System.Globalization.CultureInfo.InvariantCulture), Scopes.DevicesUnprotect);
            if (!decision.Allowed)
            {
                return decision.Problem!;
            }
        }
        else if (device.OwnerUserId != context.User.UserId())
        {
            return DeviceEndpointsNotFound();
        }
        return await UnprotectAsync(context, db, device);
    }

    private static async Task<IResult> UnprotectProductDeviceAsync(string deviceId, HttpContext context, BulwarkDbContext db)
    {
        var product = context.Grant().Product!;
        var id = deviceId.Trim().ToLowerInvariant();
        var device = await db.Devices.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id && d.CloudProductId == product.Id, context.RequestAborted);
        return device is null ? ApiProblem.NotFound("Device not found in this product") : await UnprotectAsync(context, db, device);
    }

    private static async Task<IResult> UnprotectAsync(HttpContext context, BulwarkDbContext db, Device device)
    {
        var services = context.RequestServices;
        var authorizer = services.GetRequiredService<ServiceModeAuthorizer>();
        var protection = services.GetRequiredService<DeviceProtectionService>();
        var audit = services.GetRequiredService<AuditLog>();
        var actor = AuditActor.From(context, context.User.UserId(), context.User.Username());
        var fields = await RequestFields.ReadAsync(context.Request);
        var action = fields.String("action")?.Trim().ToLowerInvariant();
        var spki = ServiceModeAuthorizer.SpkiFromPem(device.EcPublicKeyPem);
        switch (action)
        {
            case "prepare":
            {
                if (spki is null)
                {
                    await audit.RecordAsync(db, AuditEventType.ServiceModeRefused, actor, device.Id, "prepare: " + ServiceModeAuthorizer.DeviceKeyNotFound, context.RequestAborted);
                    return ApiProblem.NotFound(ServiceModeAuthorizer.DeviceKeyNotFound);
                }
                // Service Mode overrides protection the device has reported; there is nothing to override before that.
                var current = await protection.RefreshAsync(db, device.Id, context.RequestAborted);
                if (current is not (ProtectionStatus.Active or ProtectionStatus.ServiceMode))
                {
                    var text = ProtectionStatusRules.Text(current);
                    await audit.RecordAsync(db, AuditEventType.ServiceModeRefused, actor, device.Id,
                        $"prepare: the device has not reported Device Protection (status {text})", context.RequestAborted);
                    return ApiProblem.Create(409, NotProtected,
                        $"Device {device.Id} is not protected (device_protection.status is {text}): Service Mode is only for a device that has reported Device Protection active");
                }
                var nonce = authorizer.Prepare(device.Id);
                await audit.RecordAsync(db, AuditEventType.ServiceModePrepared, actor, device.Id, "Service Mode prepare", context.RequestAborted);
                return TypedResults.Json(new Dictionary<string, object?> { ["server_nonce"] = Convert.ToBase64String(nonce) });
            }
            case "confirm":
            {
                var confirmation = new ServiceModeConfirmation(Base64(fields, "server_nonce"), Base64(fields, "device_nonce"),
                    Base64(fields, "device_signature"), Base64(fields, "device_public_key_fingerprint"));
                var grant = authorizer.Confirm(device.Id, spki, confirmation);
                if (!grant.Granted)
                {
                    await audit.RecordAsync(db, AuditEventType.ServiceModeRefused, actor, device.Id, $"confirm refused ({grant.Code}): {grant.Error}", context.RequestAborted);
                    return grant.Code == ServiceModeAuthorizer.CodeNoKey
                        ? ApiProblem.NotFound(grant.Error!)
                        : ApiProblem.Create(grant.Code is ServiceModeAuthorizer.CodeMalformed ? 400 : 403, grant.Code!, grant.Error!);
                }
                await audit.RecordAsync(db, AuditEventType.ServiceModeGranted, actor, device.Id,
                    "Service Mode granted (24 hours or 20 resets, or until protection is re-enabled)", context.RequestAborted);
                await protection.EnterServiceModeAsync(db, device.Id, context.RequestAborted);
                return TypedResults.Json(new Dictionary<string, object?>
                {
                    ["server_signature"] = Convert.ToBase64String(grant.ServerSignature!),
                    ["server_public_key_fingerprint"] = Convert.ToBase64String(grant.ServerPublicKeyFingerprint!),
                });
            }
            case "reset" or "end" or "protect":
            {
                var ended = await protection.EndServiceModeAsync(db, device.Id, context.RequestAborted);
                if (ended)
                {
                    await audit.RecordAsync(db, AuditEventType.ServiceModeEnded, actor, device.Id, "Service Mode ended on request", context.RequestAborted);
                }
                var status = await protection.RefreshAsync(db, device.Id, context.RequestAborted);
                return TypedResults.Json(new Dictionary<string, object?>
                {
                    ["ok"] = true,
                    ["device_protection"] = new Dictionary<string, object?> { ["status"] = ProtectionStatusRules.Text(status) },
                });
            }
            default:
                return ApiProblem.BadRequest("action must be prepare, confirm or reset");
        }
    }

    private static byte[] Base64(RequestFields fields, string name)
    {
        try
        {
            return Convert.FromBase64String(fields.String(name) ?? "");
        }
        catch (FormatException)
        {
            return [];
        }
    }

    private static async Task<IResult> ReportAsync(HttpContext context, BulwarkDbContext db, IProductFleet fleet)
    {
        var product = context.Grant().Product!;
        var devices = await fleet.Members(db, product.Id).AsNoTracking().OrderBy(d => d.Id)
            .Select(d => new { d.Id, d.Name, d.PlatformId, d.SystemVersion, d.DeviceProtectionStatus }).ToListAsync(context.RequestAborted);
        var counts = Enum.GetValues<ProtectionStatus>().ToDictionary(ProtectionStatusRules.Text, _ => 0);
        foreach (var d in devices)
        {
            counts[ProtectionStatusRules.Text(ProtectionStatusRules.Parse(d.DeviceProtectionStatus))]++;
        }
        var cannot = devices
            .Where(d => d.DeviceProtectionStatus is not ("active" or "service_mode"))
            .Select(d => (d, reason: Platforms.Find(d.PlatformId ?? product.PlatformId)?.DeviceProtection != true ? "platform_unsupported"
                : d.SystemVersion is { } v && v < FlashPolicy.MinimumProtectedSystemVersion ? "device_os_too_old" : null))
            .Where(x => x.reason is not null)
            .Select(x => new Dictionary<string, object?>
            {
                ["id"] = x.d.Id,
                ["name"] = x.d.Name,
                ["system_firmware_version"] = DeviceView.SystemVersionText(x.d.SystemVersion),
                ["reason"] = x.reason,
            }).ToList();
        var isProtected = await DeviceProtectionService.IsProductProtectedAsync(db, product.Id, context.RequestAborted);
        return TypedResults.Json(new Dictionary<string, object?>
        {
            ["product_id"] = product.Id,
            ["device_protection"] = isProtected ? Active : Disabled,
            ["total"] = devices.Count,
            ["counts"] = counts,
            ["minimum_device_os_version"] = "6.0.0",
            ["cannot_protect"] = cannot,
        });
    }

    private static async Task<IResult> ImportModuleAsync(HttpContext context, BulwarkDbContext db, DeviceProtectionService protection, AuditLog audit, TimeProvider clock)
    {
        var username = context.User.Username();
        if (!protection.Options.Operators.Contains(username ?? "", StringComparer.OrdinalIgnoreCase))
        {
            return ApiProblem.Forbidden("Only the server's operators (DeviceProtection:Operators) may import Device OS modules", "operator_only");
        }
        byte[] bytes;
        if (context.Request.HasFormContentType)
        {
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            var file = form.Files.GetFile("file") ?? form.Files.FirstOrDefault();
            if (file is null || file.Length is 0 or > UploadFirmwareCommand.MaxBinaryBytes)
            {
                return ApiProblem.BadRequest("Send the module binary in a part named 'file'");
            }
            bytes = new byte[file.Length];
            await using var stream = file.OpenReadStream();
            await stream.ReadExactlyAsync(bytes, context.RequestAborted);
        }
        else
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            bytes = buffer.ToArray();
        }
        if (!FirmwareModule.TryParse(bytes, out var module, out var error))
        {
            return ApiProblem.BadRequest($"Not a valid firmware module ({error.Reason}): {error.Message}", "invalid_binary");
        }
        if (module.Function is not (ModuleFunction.Bootloader or ModuleFunction.SystemPart or ModuleFunction.MonoFirmware or ModuleFunction.RadioStack or ModuleFunction.NcpFirmware))
        {
            return ApiProblem.BadRequest($"A {module.Function} module is not part of Device OS", "invalid_binary");
        }
        if (module.IsProtected)
        {
            return ApiProblem.BadRequest("Import the module as Particle publishes it; the cloud marks bootloaders protected itself", "invalid_binary");
        }
        var existing = await db.Set<DeviceOsModule>().FirstOrDefaultAsync(m => m.PlatformId == module.PlatformId && m.Function == (int)module.Function
            && m.ModuleIndex == module.Index && m.Version == module.Version, context.RequestAborted);
        if (existing is not null)
        {
            db.Remove(existing);
        }
        var entry = new DeviceOsModule
        {
            Id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)),
            PlatformId = module.PlatformId,
            Function = (int)module.Function,
            ModuleIndex = module.Index,
            Version = module.Version,
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            Size = bytes.Length,
            Data = bytes,
            UploadedAt = clock.GetUtcNow().UtcDateTime,
            UploadedByName = username,
        };
        db.Add(entry);
        await audit.RecordAsync(db, AuditEventType.DeviceOsModuleImported, AuditActor.From(context, context.User.UserId(), username), entry.Id,
            $"platform {entry.PlatformId} {module.Function} {module.Index} v{module.Version}, sha256 {entry.Sha256}", context.RequestAborted);
        return TypedResults.Json(ModuleJson(entry), statusCode: 201);
    }

    private static async Task<IResult> ListModulesAsync(HttpContext context, BulwarkDbContext db)
    {
        var modules = await db.Set<DeviceOsModule>().AsNoTracking().OrderBy(m => m.PlatformId).ThenBy(m => m.Function).ThenBy(m => m.Version)
            .Select(m => new DeviceOsModule { Id = m.Id, PlatformId = m.PlatformId, Function = m.Function, ModuleIndex = m.ModuleIndex, Version = m.Version,
                Sha256 = m.Sha256, Size = m.Size, Data = Array.Empty<byte>(), UploadedAt = m.UploadedAt, UploadedByName = m.UploadedByName })
            .ToListAsync(context.RequestAborted);
        return TypedResults.Json(modules.Select(ModuleJson).ToList());
    }

    private static Dictionary<string, object?> ModuleJson(DeviceOsModule m) => new()
    {
        ["id"] = m.Id,
        ["platform_id"] = m.PlatformId,
        ["module_function"] = ((ModuleFunction)m.Function).ToString().ToLowerInvariant(),
        ["module_index"] = m.ModuleIndex,
        ["module_version"] = m.Version,
        ["size"] = m.Size,
        ["sha256"] = m.Sha256,
        ["uploaded_at"] = DeviceView.Time(m.UploadedAt),
    };

    private static IResult DeviceEndpointsNotFound() => ApiProblem.NotFound("Device not found");
}
