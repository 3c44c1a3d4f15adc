using Bulwark.Firmware;
using Bulwark.Server.Features.Teams;

namespace Bulwark.Server.Features.DeviceProtection;

/// <summary>A device's Device Protection status, as the device object shows it (<c>device_protection.status</c>).</summary>
public enum ProtectionStatus
{
    /// <summary>Not in a protected product, a development device, or a platform that cannot be protected.</summary>
    Disabled,
    /// <summary>In a protected product and due to become protected (waiting for 6.x product firmware or the protected bootloader).</summary>
    Pending,
    /// <summary>The device reports a protected bootloader.</summary>
    Active,
    /// <summary>Protected, with Service Mode granted (local access open for at most 24 h or 20 resets).</summary>
    ServiceMode,
}

/// <summary>What a firmware binary is, relative to the device it would go to (<see cref="FlashPolicy.Classify"/>).</summary>
public enum FirmwareKind
{
    /// <summary>An application that is not one of this product's uploaded firmware (development flashing, another product's binary).</summary>
    AdHocApplication,
    /// <summary>This product's firmware, but targeting Device OS below 6.0 and not marked protected.</summary>
    UnprotectedProductFirmware,
    /// <summary>This product's firmware, targeting Device OS 6.0 or later (or carrying SECURITY_MODE = protected).</summary>
    ProtectedProductFirmware,
    /// <summary>A Device OS module (system part, radio stack, NCP) at or above what the device runs.</summary>
    DeviceOsUpgrade,
    /// <summary>A Device OS module below 6.0 and below what the device runs.</summary>
    DeviceOsDowngradeBelow6,
    /// <summary>A Device OS 6.x module older than what the device runs.</summary>
    DeviceOsDowngradeWithin6,
    /// <summary>A bootloader carrying SECURITY_MODE = protected in its suffix: flashing it turns protection on.</summary>
    ProtectedBootloader,
    /// <summary>A bootloader without protection: on a protected device it would turn protection off.</summary>
    UnprotectedBootloader,
}

/// <summary>Who asks for the flash. Team roles in the order of <see cref="TeamRole"/>; <see cref="DeviceOwner"/> is the
/// token of the account that owns (claimed) the device; <see cref="Cloud"/> is the release scheduler acting on a
/// fleet release, a lock or its own protected bootloader.</summary>
public enum FlashRequester
{
    ViewOnly,
    Support,
    Developer,
    Administrator,
    Owner,
    DeviceOwner,
    ApiUser,
    Cloud,
}

/// <summary>The outcome of <see cref="FlashPolicy.Decide"/>: allowed, or refused with a code and a sentence for the API and the audit log.</summary>
public sealed record FlashVerdict(bool Allowed, string? Code, string Reason)
{
    public static FlashVerdict Allow(string reason) => new(true, null, reason);

    public static FlashVerdict Refuse(string code, string reason) => new(false, code, reason);
}

/// <summary>The cloud's flash policy, a pure function (seed: "the Particle Cloud will prevent flashing unauthorized
/// firmware on Protected Devices, including flashing ad-hoc applications, downgrading Device OS to versions prior to
/// 6.x, and flashing product firmware versions that are not protected, even with valid access tokens").
/// Protection is decided before the caller's role and no role, the product owner's included, overrides it.
/// It applies to every protection status but <see cref="ProtectionStatus.Disabled"/>: a pending device is on its way to
/// protection (an ad-hoc application would keep it from getting there) and Service Mode opens the device's local
/// interfaces, not the cloud's policy.</summary>
public static class FlashPolicy
{
    public const int MinimumProtectedSystemVersion = 6000;

    public const string RefusedAdHoc = "device_protected_ad_hoc";
    public const string RefusedUnprotectedFirmware = "device_protected_unprotected_firmware";
    public const string RefusedDowngradeBelow6 = "device_protected_downgrade";
    public const string RefusedUnprotectedBootloader = "device_protected_bootloader";
    public const string RefusedNotProtectedProduct = "product_not_protected";
    public const string RefusedRole = "flash_not_permitted";

    /// <summary>Whether this requester may flash at all (on any device): Developer and above, the device's owner, an
    /// API user that the caller already checked for the scope, and the cloud itself.</summary>
    public static bool MayFlash(FlashRequester requester) => requester is not (FlashRequester.ViewOnly or FlashRequester.Support);

    public static FlashVerdict Decide(ProtectionStatus status, FirmwareKind kind, FlashRequester requester)
    {
        var isProtected = status != ProtectionStatus.Disabled;
        if (isProtected)
        {
            switch (kind)
            {
                case FirmwareKind.AdHocApplication:
                    return FlashVerdict.Refuse(RefusedAdHoc,
                        "The device is protected: only this product's firmware may be flashed to it, not an ad-hoc application");
                case FirmwareKind.UnprotectedProductFirmware:
                    return FlashVerdict.Refuse(RefusedUnprotectedFirmware,
                        "The device is protected: this product firmware targets Device OS below 6.0 and is not protected");
                case FirmwareKind.DeviceOsDowngradeBelow6:
                    return FlashVerdict.Refuse(RefusedDowngradeBelow6,
                        "The device is protected: Device OS cannot be downgraded below 6.0");
                case FirmwareKind.UnprotectedBootloader:
                    return FlashVerdict.Refuse(RefusedUnprotectedBootloader,
                        "The device is protected: a bootloader without protection would turn Device Protection off");
            }
        }
        else if (kind == FirmwareKind.ProtectedBootloader)
        {
            return FlashVerdict.Refuse(RefusedNotProtectedProduct,
                "A protected bootloader is only sent to devices of a product with Device Protection");
        }
        if (!MayFlash(requester))
        {
            return FlashVerdict.Refuse(RefusedRole, $"The {requester} role may not flash firmware");
        }
        return FlashVerdict.Allow(isProtected ? $"{kind} is allowed on a protected device" : "The device is not protected");
    }

    public static FlashRequester RequesterOf(TeamRole? role) => role switch
    {
        TeamRole.ViewOnly => FlashRequester.ViewOnly,
        TeamRole.Support => FlashRequester.Support,
        TeamRole.Developer => FlashRequester.Developer,
        TeamRole.Administrator => FlashRequester.Administrator,
        TeamRole.Owner => FlashRequester.Owner,
        _ => FlashRequester.ApiUser,
    };

    /// <summary>Whether product firmware may go to a protected device: it targets Device OS 6.0 or later, or carries SECURITY_MODE = protected.</summary>
    public static bool IsProtectedCapable(int? requiredSystemVersion, bool isProtected) =>
        isProtected || requiredSystemVersion >= MinimumProtectedSystemVersion;

    /// <summary>What <paramref name="module"/> is for this device.</summary>
    /// <param name="isProductFirmware">The binary is one of the device's product's uploaded firmware (same bytes).</param>
    /// <param name="deviceSystemVersion">The Device OS module version the device runs, when known.</param>
    public static FirmwareKind Classify(ParsedModule module, bool isProductFirmware, int? deviceSystemVersion)
    {
        ArgumentNullException.ThrowIfNull(module);
        switch (module.Function)
        {
            case ModuleFunction.UserPart:
                if (!isProductFirmware)
                {
                    return FirmwareKind.AdHocApplication;
                }
                var required = module.Dependencies
                    .Where(d => d.Function is ModuleFunction.SystemPart or ModuleFunction.MonoFirmware)
                    .Select(d => (int?)d.Version).Max();
                return IsProtectedCapable(required, module.IsProtected)
                    ? FirmwareKind.ProtectedProductFirmware
                    : FirmwareKind.UnprotectedProductFirmware;
            case ModuleFunction.SystemPart or ModuleFunction.MonoFirmware:
                return ClassifyDeviceOs(module.Version, deviceSystemVersion);
            case ModuleFunction.Bootloader:
                return module.EnablesDeviceProtection ? FirmwareKind.ProtectedBootloader : FirmwareKind.UnprotectedBootloader;
            case ModuleFunction.RadioStack or ModuleFunction.NcpFirmware:
                return FirmwareKind.DeviceOsUpgrade;
            default:
                return FirmwareKind.AdHocApplication;
        }
    }

    /// <summary>Upgrade, downgrade within 6.x, or downgrade below 6.0. With the device's version unknown, anything
    /// below 6.0 counts as a downgrade below 6.0 (the safe reading).</summary>
    public static FirmwareKind ClassifyDeviceOs(int moduleVersion, int? deviceSystemVersion)
    {
        if (deviceSystemVersion is { } current && moduleVersion >= current)
        {
            return FirmwareKind.DeviceOsUpgrade;
        }
        if (moduleVersion < MinimumProtectedSystemVersion)
        {
            return FirmwareKind.DeviceOsDowngradeBelow6;
        }
        return deviceSystemVersion is null ? FirmwareKind.DeviceOsUpgrade : FirmwareKind.DeviceOsDowngradeWithin6;
    }
}
