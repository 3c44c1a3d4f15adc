using Bulwark.Server.Data;
using Bulwark.Server.Features.Devices;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Firmware;

/// <summary>The firmware part of a product device object: Particle's <c>development</c>, <c>desired_firmware_version</c>,
/// <c>groups</c>, <c>targeted_firmware_release_version</c>, and Bulwark's <c>firmware_update</c> (the last OTA: status,
/// version, attempts, error, next retry). Product admission's device object adds these through <see cref="FieldsAsync"/>.</summary>
public static class DeviceFirmwareView
{
    public static async Task<Dictionary<string, object?>> FieldsAsync(BulwarkDbContext db, IProductFleet fleet, int productId, string deviceId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var facts = await FirmwareFacts.DevicesAsync(db, fleet, productId, [deviceId], cancellationToken);
        var state = await db.DeviceFirmwareStates.AsNoTracking().FirstOrDefaultAsync(s => s.DeviceId == deviceId && s.ProductId == productId, cancellationToken);
        var fields = new Dictionary<string, object?>
        {
            ["development"] = state?.Development ?? false,
            ["desired_firmware_version"] = state?.DesiredFirmwareVersion,
        };
        if (facts.TryGetValue(deviceId, out var fact))
        {
            var decision = FirmwareUpdatePolicy.Decide(fact, await FirmwareFacts.ReleasesAsync(db, productId, cancellationToken));
            fields["firmware_version"] = fact.RunningVersion;
            fields["groups"] = fact.Groups.Order(StringComparer.Ordinal).ToList();
            fields["targeted_firmware_release_version"] = decision.TargetVersion;
            fields["firmware_update_decision"] = ToSnake(decision.Action.ToString());
        }
        fields["firmware_update"] = state?.OtaStatus is null ? null : new Dictionary<string, object?>
        {
            ["status"] = state.OtaStatus,
            ["version"] = state.OtaVersion,
            ["attempts"] = state.OtaAttempts,
            ["error"] = state.OtaError,
            ["updated_at"] = DeviceView.Time(state.OtaUpdatedAt),
            ["retry_at"] = DeviceView.Time(state.OtaRetryAt),
        };
        return fields;
    }

    private static string ToSnake(string name) => BulwarkDbContext.ToSnakeCase(name);
}
