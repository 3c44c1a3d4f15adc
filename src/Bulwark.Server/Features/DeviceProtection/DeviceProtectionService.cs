using System.Text.Json;
using Bulwark.Firmware;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Products;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.DeviceProtection;

/// <summary>Server settings (<c>DeviceProtection</c> section). Device Protection is an enterprise capability at Particle;
/// whoever runs a self-hosted cloud is the enterprise, so by default every organization (and every user's product) holds it.</summary>
public sealed class DeviceProtectionOptions
{
    public const string Section = "DeviceProtection";

    /// <summary>Every organization may enable Device Protection on its products (default).</summary>
    public bool AllOrganizations { get; set; } = true;

    /// <summary>With <see cref="AllOrganizations"/> off: the organizations (id or slug) that may.</summary>
    public List<string> Organizations { get; set; } = [];

    /// <summary>Products owned by a user rather than an organization may enable it (default).</summary>
    public bool UserProducts { get; set; } = true;

    /// <summary>Usernames allowed to import Device OS modules (<c>POST /v1/device-os/modules</c>). Empty: nobody; the
    /// bootloader the cloud sends to protected devices comes from this catalogue, so it is an operator's job.</summary>
    public List<string> Operators { get; set; } = [];

    /// <summary>How long after sending the protected bootloader the cloud waits for the device to report protection before sending again.</summary>
    public int BootloaderRetrySeconds { get; set; } = 300;
}

/// <summary>Turns what the cloud knows into a device's protection status (pure).</summary>
public static class ProtectionStatusRules
{
    public static readonly TimeSpan ServiceModeDuration = TimeSpan.FromHours(24);
    public const int ServiceModeMaxResets = 20;

    public static string Text(ProtectionStatus status) => status switch
    {
        ProtectionStatus.Pending => "pending",
        ProtectionStatus.Active => "active",
        ProtectionStatus.ServiceMode => "service_mode",
        _ => "disabled",
    };

    public static ProtectionStatus Parse(string? text) => text switch
    {
        "pending" => ProtectionStatus.Pending,
        "active" => ProtectionStatus.Active,
        "service_mode" => ProtectionStatus.ServiceMode,
        _ => ProtectionStatus.Disabled,
    };

    /// <summary>A device that reports protection is protected whatever its product says (protection cannot be undone by the
    /// cloud); otherwise it is pending in a protected product unless it is a development device or its platform cannot be protected.</summary>
    public static ProtectionStatus Compute(bool productProtected, bool platformSupports, bool development, bool? reportedProtected, bool inServiceMode)
    {
        if (reportedProtected == true)
        {
            return inServiceMode ? ProtectionStatus.ServiceMode : ProtectionStatus.Active;
        }
        return productProtected && platformSupports && !development ? ProtectionStatus.Pending : ProtectionStatus.Disabled;
    }

    /// <summary>Service Mode holds for 24 hours and 20 resets, whichever ends first (Device OS security_mode.cpp).</summary>
    public static bool ServiceModeHolds(DateTime? startedAt, int resets, DateTime now) =>
        startedAt is { } start && now - start < ServiceModeDuration && resets < ServiceModeMaxResets;
}

/// <summary>Device Protection state keeping: product enablement, each device's status (recorded on the device row), what the
/// device reports in its system Describe, Service Mode bookkeeping and the protected bootloader the cloud sends.</summary>
public sealed partial class DeviceProtectionService(DeviceProtectionOptions options, AuditLog audit, TimeProvider clock, ILogger<DeviceProtectionService> logger)
{
    private static readonly AuditActor Gateway = new(null, "gateway", null);

    public DeviceProtectionOptions Options => options;

    /// <summary>Whether the product's owner (organization or user) holds the capability.</summary>
    public bool MayEnable(Product product, Organization? organization)
    {
        ArgumentNullException.ThrowIfNull(product);
        if (product.OrganizationId is null)
        {
            return options.UserProducts;
        }
        return options.AllOrganizations || options.Organizations.Any(o =>
            string.Equals(o, product.OrganizationId, StringComparison.Ordinal) || string.Equals(o, organization?.Slug, StringComparison.OrdinalIgnoreCase));
    }

    public static Task<bool> IsProductProtectedAsync(BulwarkDbContext db, int productId, CancellationToken cancellationToken) =>
        db.Set<ProductProtection>().AnyAsync(p => p.ProductId == productId, cancellationToken);

    /// <summary>Recomputes and stores the device's status (ending an expired Service Mode, audited); returns it.</summary>
    public async Task<ProtectionStatus> RefreshAsync(BulwarkDbContext db, string deviceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var device = await db.Devices.FirstOrDefaultAsync(d => d.Id == deviceId, cancellationToken);
        if (device is null)
        {
            return ProtectionStatus.Disabled;
        }
        var record = await db.Set<DeviceProtectionRecord>().FirstOrDefaultAsync(r => r.DeviceId == deviceId, cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        string? ended = null;
        if (record?.ServiceModeStartedAt is { } started && !ProtectionStatusRules.ServiceModeHolds(started, record.ServiceModeResets, now))
        {
            ended = record.ServiceModeResets >= ProtectionStatusRules.ServiceModeMaxResets ? "after 20 resets" : "after 24 hours";
            record.ServiceModeStartedAt = null;
            record.ServiceModeResets = 0;
            record.UpdatedAt = now;
        }
        var productProtected = device.CloudProductId is { } productId && await IsProductProtectedAsync(db, productId, cancellationToken);
        var development = device.CloudProductId is not null && await db.DeviceFirmwareStates
            .AnyAsync(s => s.DeviceId == deviceId && s.ProductId == device.CloudProductId && s.Development, cancellationToken);
        var platformSupports = device.PlatformId is { } platform && Platforms.Find(platform)?.DeviceProtection == true;
        var status = ProtectionStatusRules.Compute(productProtected, platformSupports, development, record?.ReportedProtected, record?.ServiceModeStartedAt is not null);
        var text = status == ProtectionStatus.Disabled ? null : ProtectionStatusRules.Text(status);
        if (device.DeviceProtectionStatus != text)
        {
            device.DeviceProtectionStatus = text;
        }
        if (ended is not null)
        {
            await audit.RecordAsync(db, AuditEventType.ServiceModeEnded, Gateway, deviceId, "Service Mode ended " + ended, cancellationToken);
        }
        else
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        return status;
    }

    /// <summary>Every member of the product (after enablement).</summary>
    public async Task RefreshProductAsync(BulwarkDbContext db, int productId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var ids = await db.Devices.AsNoTracking().Where(d => d.CloudProductId == productId).Select(d => d.Id).ToListAsync(cancellationToken);
        foreach (var id in ids)
        {
            await RefreshAsync(db, id, cancellationToken);
        }
    }

    /// <summary>A new connection: while in Service Mode it counts as a reset (a TCP device reconnects only after a reset or a
    /// network loss; the device's own counter is authoritative, the cloud's errs towards ending Service Mode early).</summary>
    public async Task OnHelloAsync(BulwarkDbContext db, string deviceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var record = await db.Set<DeviceProtectionRecord>().FirstOrDefaultAsync(r => r.DeviceId == deviceId, cancellationToken);
        if (record?.ServiceModeStartedAt is not null)
        {
            record.ServiceModeResets++;
            record.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            await db.SaveChangesAsync(cancellationToken);
        }
        await RefreshAsync(db, deviceId, cancellationToken);
    }

    /// <summary>Records what the device reports: protected_state, or a bootloader whose security mode is PROTECTED.</summary>
    public async Task OnSystemDescribeAsync(BulwarkDbContext db, string deviceId, SystemDescribe describe, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(describe);
        var reported = describe.ProtectedState || describe.Modules.Any(m => m.Type == DescribeModuleType.Bootloader && m.IsProtected);
        var record = await GetOrAddRecordAsync(db, deviceId, cancellationToken);
        var changed = record.ReportedProtected != reported;
        record.ReportedProtected = reported;
        record.ReportedAt = clock.GetUtcNow().UtcDateTime;
        record.UpdatedAt = record.ReportedAt.Value;
        if (!reported && record.ServiceModeStartedAt is not null)
        {
            record.ServiceModeStartedAt = null;
            record.ServiceModeResets = 0;
        }
        if (changed)
        {
            await audit.RecordAsync(db, AuditEventType.DeviceProtectionReported, Gateway, deviceId,
                reported ? "the device reports Device Protection active (protected bootloader)" : "the device reports no Device Protection", cancellationToken);
        }
        else
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        await RefreshAsync(db, deviceId, cancellationToken);
    }

    public async Task EnterServiceModeAsync(BulwarkDbContext db, string deviceId, CancellationToken cancellationToken)
    {
        var record = await GetOrAddRecordAsync(db, deviceId, cancellationToken);
        record.ServiceModeStartedAt = clock.GetUtcNow().UtcDateTime;
        record.ServiceModeResets = 0;
        record.UpdatedAt = record.ServiceModeStartedAt.Value;
        await db.SaveChangesAsync(cancellationToken);
        await RefreshAsync(db, deviceId, cancellationToken);
    }

    /// <summary>Ends Service Mode on request; false when the device was not in it.</summary>
    public async Task<bool> EndServiceModeAsync(BulwarkDbContext db, string deviceId, CancellationToken cancellationToken)
    {
        var record = await db.Set<DeviceProtectionRecord>().FirstOrDefaultAsync(r => r.DeviceId == deviceId, cancellationToken);
        if (record?.ServiceModeStartedAt is null)
        {
            return false;
        }
        record.ServiceModeStartedAt = null;
        record.ServiceModeResets = 0;
        record.UpdatedAt = clock.GetUtcNow().UtcDateTime;
        await db.SaveChangesAsync(cancellationToken);
        await RefreshAsync(db, deviceId, cancellationToken);
        return true;
    }

    /// <summary>The protected bootloader to send now, or null: the device is pending, runs this product's firmware that targets
    /// Device OS 6.0 or later on Device OS 6.0 or later, has not reported protection, was not sent one recently, and the
    /// catalogue holds a bootloader for its platform (the version it runs, else the newest above it).</summary>
    public async Task<ProtectedBootloader?> ProtectedBootloaderAsync(BulwarkDbContext db, string deviceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var status = await RefreshAsync(db, deviceId, cancellationToken);
        if (status != ProtectionStatus.Pending)
        {
            return null;
        }
        var device = await db.Devices.AsNoTracking().FirstAsync(d => d.Id == deviceId, cancellationToken);
        if (device.CloudProductId is not { } productId || device.PlatformId is not { } platform
            || device.SystemVersion is not { } system || system < FlashPolicy.MinimumProtectedSystemVersion
            || device.ProductFirmwareVersion is not { } running)
        {
            return null;
        }
        var firmware = await db.ProductFirmware.AsNoTracking().Where(f => f.ProductId == productId && f.Version == running)
            .Select(f => new { f.RequiredSystemVersion, f.IsProtected }).FirstOrDefaultAsync(cancellationToken);
        if (firmware is null || !FlashPolicy.IsProtectedCapable(firmware.RequiredSystemVersion, firmware.IsProtected))
        {
            return null;
        }
        var record = await db.Set<DeviceProtectionRecord>().AsNoTracking().FirstOrDefaultAsync(r => r.DeviceId == deviceId, cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        if (record?.BootloaderSentAt is { } sent && now - sent < TimeSpan.FromSeconds(options.BootloaderRetrySeconds)
            && (record.ReportedAt is null || record.ReportedAt <= sent))
        {
            return null;
        }
        var runningBootloader = BootloaderVersion(device.SystemModules);
        var candidates = await db.Set<DeviceOsModule>().AsNoTracking()
            .Where(m => m.PlatformId == platform && m.Function == (int)ModuleFunction.Bootloader)
            .Select(m => new { m.Id, m.Version }).ToListAsync(cancellationToken);
        var chosen = candidates.FirstOrDefault(c => c.Version == runningBootloader)
            ?? candidates.Where(c => runningBootloader is null || c.Version > runningBootloader).OrderByDescending(c => c.Version).FirstOrDefault();
        if (chosen is null)
        {
            LogNoBootloader(logger, deviceId, platform, runningBootloader ?? 0);
            return null;
        }
        var data = await db.Set<DeviceOsModule>().AsNoTracking().Where(m => m.Id == chosen.Id).Select(m => m.Data).FirstAsync(cancellationToken);
        if (!ProtectedModuleBuilder.TryProtect(data, out var image, out var error))
        {
            LogProtectFailed(logger, chosen.Id, error.ToString());
            return null;
        }
        FirmwareModule.TryParse(image, out var parsed, out _);
        var verdict = FlashPolicy.Decide(status, FlashPolicy.Classify(parsed!, false, system), FlashRequester.Cloud);
        return verdict.Allowed ? new ProtectedBootloader(image, chosen.Version) : null;
    }

    public async Task RecordBootloaderSentAsync(BulwarkDbContext db, string deviceId, int version, CancellationToken cancellationToken)
    {
        var record = await GetOrAddRecordAsync(db, deviceId, cancellationToken);
        record.BootloaderSentAt = clock.GetUtcNow().UtcDateTime;
        record.BootloaderSentVersion = version;
        record.UpdatedAt = record.BootloaderSentAt.Value;
        await audit.RecordAsync(db, AuditEventType.ProtectedBootloaderSent, Gateway, deviceId,
            $"protected bootloader {version} sent to turn Device Protection on", cancellationToken);
    }

    /// <summary>The bootloader version in the stored Describe modules JSON.</summary>
    public static int? BootloaderVersion(string? modulesJson)
    {
        if (string.IsNullOrEmpty(modulesJson))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(modulesJson);
            foreach (var module in document.RootElement.EnumerateArray())
            {
                if (module.TryGetProperty("f", out var f) && f.GetString() == "b" && module.TryGetProperty("v", out var v) && v.TryGetInt32(out var version))
                {
                    return version;
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
        }
        return null;
    }

    private async Task<DeviceProtectionRecord> GetOrAddRecordAsync(BulwarkDbContext db, string deviceId, CancellationToken cancellationToken)
    {
        var record = await db.Set<DeviceProtectionRecord>().FirstOrDefaultAsync(r => r.DeviceId == deviceId, cancellationToken);
        if (record is null)
        {
            record = new DeviceProtectionRecord { DeviceId = deviceId, UpdatedAt = clock.GetUtcNow().UtcDateTime };
            db.Add(record);
        }
        return record;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device Protection: no bootloader for platform {Platform} (device {DeviceId} runs {Running}) in the Device OS catalogue; import one with POST /v1/device-os/modules")]
    private static partial void LogNoBootloader(ILogger logger, string deviceId, int platform, int running);

    [LoggerMessage(Level = LogLevel.Error, Message = "Device Protection: catalogue module {Id} cannot be marked protected: {Error}")]
    private static partial void LogProtectFailed(ILogger logger, string id, string error);
}

/// <summary>A bootloader marked protected, ready to send.</summary>
public sealed record ProtectedBootloader(byte[] Image, int Version);
