namespace Bulwark.Server.Features.Admission;

/// <summary>Who owns a device, seen from the product its firmware names.</summary>
public enum DeviceOwnership
{
    Unowned,
    /// <summary>Owned by a member of the product's team (or of the organization that owns the product).</summary>
    TeamMember,
    /// <summary>Owned by someone outside the product's team.</summary>
    Stranger,
}

/// <summary>What the product already recorded about a device that is not one of its members.</summary>
public enum ProductHistory
{
    None,
    Quarantined,
    /// <summary>Removed from the product by a team member.</summary>
    Removed,
    Denied,
}

/// <summary>The product's setting for devices it has no record of (Device OS 3.x and earlier only).</summary>
public enum UnrecognizedDevicePolicyKind
{
    Quarantine,
    AutoApprove,
}

public enum AdmissionOutcome
{
    /// <summary>No product involved: a development kit.</summary>
    NotAProductDevice,
    /// <summary>Cloud and firmware agree: full product privileges.</summary>
    Full,
    /// <summary>Unknown to the product, let in by auto-approve: now a member with full privileges.</summary>
    AutoApproved,
    /// <summary>Cloud and firmware disagree: the device keeps its connection but has no product privileges.</summary>
    Limited,
    /// <summary>Unknown to the product: held in the quarantine list until approved or denied.</summary>
    Quarantined,
    /// <summary>Removed or denied before: held in the denied list.</summary>
    Denied,
    /// <summary>Device OS 4.0 or later naming a product that never pre-added it: no privileges, recorded as an attempt.</summary>
    UnrecognizedAttempt,
}

/// <summary>Everything the admission decision depends on. <see cref="ReportedProductId"/> is null when the firmware
/// names no existing product (it reports only its platform).</summary>
public sealed record AdmissionInput(
    int? ReportedProductId,
    int? CloudProductId,
    UnrecognizedDevicePolicyKind ReportedProductPolicy,
    bool PlatformMatchesReportedProduct,
    DeviceOwnership Ownership,
    ProductHistory History,
    int? SystemModuleVersion);

/// <summary>The decision: the outcome and the product it concerns (the cloud's product for members, else the one the
/// firmware named), with a reason worth an audit line.</summary>
public sealed record AdmissionResult(AdmissionOutcome Outcome, int? ProductId, string Reason)
{
    public bool HasFullPrivileges => Outcome is AdmissionOutcome.Full or AdmissionOutcome.AutoApproved;

    /// <summary>What is stored on the device: <c>full</c>, <c>limited</c> or <c>none</c>; null outside products.</summary>
    public string? StoredPrivileges => Outcome switch
    {
        AdmissionOutcome.NotAProductDevice => null,
        AdmissionOutcome.Full or AdmissionOutcome.AutoApproved => ProductPrivilegeLevel.Full,
        AdmissionOutcome.Limited => ProductPrivilegeLevel.Limited,
        _ => ProductPrivilegeLevel.None,
    };
}

public static class ProductPrivilegeLevel
{
    public const string Full = "full";
    public const string Limited = "limited";
    public const string None = "none";
}

/// <summary>Device OS versions as the Hello carries them: module version 4000 and up is Device OS 4.x and later.</summary>
public static class DeviceOsVersion
{
    public const int FirstWithoutQuarantine = 4000;

    /// <summary>True when the device runs Device OS 3.x or earlier, where firmware names its product and quarantine and
    /// auto-approve apply. An unknown version is not assumed old: it must have been pre-added.</summary>
    public static bool ReportsProductId(int? moduleVersion) => moduleVersion is > 0 and < FirstWithoutQuarantine;
}

/// <summary>Which product privileges a device gets when it connects (seeds/001 "Treating devices as products").
/// A pure function of its inputs, so every combination is tested; the gateway gathers the inputs and applies the result.</summary>
public static class AdmissionDecision
{
    public static AdmissionResult Decide(AdmissionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var legacyOs = DeviceOsVersion.ReportsProductId(input.SystemModuleVersion);
        if (input.CloudProductId is { } cloud)
        {
            if (input.ReportedProductId == cloud)
            {
                return new(AdmissionOutcome.Full, cloud, "cloud and firmware product IDs match");
            }
            if (input.ReportedProductId is null && !legacyOs)
            {
                // From Device OS 4.0 firmware carries no product ID: pre-adding is what makes it a member.
                return new(AdmissionOutcome.Full, cloud, "pre-added device on Device OS 4.0 or later");
            }
            return new(AdmissionOutcome.Limited, cloud, input.ReportedProductId is { } other
                ? $"firmware names product {other} but the cloud holds the device in product {cloud}"
                : $"firmware names no product but the cloud holds the device in product {cloud}");
        }
        if (input.ReportedProductId is not { } reported)
        {
            return new(AdmissionOutcome.NotAProductDevice, null, "no product");
        }
        if (input.History is ProductHistory.Removed or ProductHistory.Denied)
        {
            return new(AdmissionOutcome.Denied, reported, input.History == ProductHistory.Denied
                ? "denied before and came back with product firmware"
                : "removed from the product and came back with product firmware");
        }
        if (!legacyOs)
        {
            return new(AdmissionOutcome.UnrecognizedAttempt, reported,
                "Device OS 4.0 or later is never quarantined or auto-approved: the device was not pre-added");
        }
        if (input.ReportedProductPolicy == UnrecognizedDevicePolicyKind.AutoApprove)
        {
            if (input.Ownership == DeviceOwnership.Stranger)
            {
                return new(AdmissionOutcome.Quarantined, reported, "auto-approve refused: owned by someone outside the product team");
            }
            if (!input.PlatformMatchesReportedProduct)
            {
                return new(AdmissionOutcome.Quarantined, reported, "auto-approve refused: the device's platform is not the product's");
            }
            return new(AdmissionOutcome.AutoApproved, reported, input.Ownership == DeviceOwnership.Unowned
                ? "auto-approved: unowned device"
                : "auto-approved: owned by a team member");
        }
        return new(AdmissionOutcome.Quarantined, reported, "unrecognized device quarantined by the product's policy");
    }
}
