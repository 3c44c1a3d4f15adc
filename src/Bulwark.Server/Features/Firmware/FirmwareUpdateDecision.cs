namespace Bulwark.Server.Features.Firmware;

/// <summary>What the cloud knows about one product device when it decides which firmware the device should run.</summary>
/// <param name="RunningVersion">The product firmware version from the device's last Hello (null when never heard).</param>
/// <param name="SystemVersion">Device OS module version from the last Hello (6200 = 6.2.0); null when unknown.</param>
/// <param name="Development">Development devices are left alone: they receive neither locked nor released firmware.</param>
/// <param name="LockedVersion">The per-device lock (<c>desired_firmware_version</c>); overrides every release.</param>
/// <param name="Groups">The device's group names.</param>
public sealed record DeviceFirmwareFacts(int? RunningVersion, int? SystemVersion, bool Development, int? LockedVersion, IReadOnlyCollection<string> Groups);

/// <summary>One uploaded firmware as far as the decision is concerned.</summary>
/// <param name="RequiredSystemVersion">The lowest Device OS module version the binary's dependencies accept; null when it names none.</param>
public sealed record FirmwareCandidate(int Version, int? RequiredSystemVersion);

/// <summary>A product's releases: the product default and, per group, the firmware released to it.</summary>
public sealed record ProductReleases(int? ProductDefaultVersion, IReadOnlyDictionary<string, int> GroupVersions, IReadOnlyDictionary<int, FirmwareCandidate> Firmware)
{
    public static ProductReleases None { get; } = new(null, new Dictionary<string, int>(), new Dictionary<int, FirmwareCandidate>());
}

/// <summary>Why the decision came out as it did.</summary>
public enum UpdateReason
{
    /// <summary>No lock, no group release, no product default: nothing to run.</summary>
    NoRelease,
    /// <summary>A development device: fleet releases and locks do not apply.</summary>
    Development,
    /// <summary>The target comes from the device's lock.</summary>
    Locked,
    /// <summary>The target is the highest version released to one of the device's groups.</summary>
    GroupRelease,
    /// <summary>The target is the product default.</summary>
    ProductDefault,
}

/// <summary>Whether the device should be sent the target now.</summary>
public enum UpdateAction
{
    /// <summary>No target, or the device is left alone.</summary>
    None,
    /// <summary>The device already runs the target.</summary>
    UpToDate,
    /// <summary>Send the target (up or down: the cloud compares versions for equality).</summary>
    Flash,
    /// <summary>The target needs a newer Device OS than the device runs; it is not sent.</summary>
    BlockedByDeviceOs,
    /// <summary>The target version has no uploaded binary (a lock to a version that does not exist).</summary>
    FirmwareMissing,
}

/// <param name="TargetVersion">What the device should run (Particle's <c>targeted_firmware_release_version</c>).</param>
public sealed record UpdateDecision(UpdateAction Action, UpdateReason Reason, int? TargetVersion, int? RequiredSystemVersion = null)
{
    public bool ShouldFlash => Action == UpdateAction.Flash;
}

/// <summary>The update decision, a pure function: which firmware a product device should run and whether to send it.
/// Precedence, strongest first: development (left alone), the device's lock, the highest version released to any of
/// its groups, the product default. A target the device's Device OS cannot run is never sent.</summary>
public static class FirmwareUpdatePolicy
{
    public static UpdateDecision Decide(DeviceFirmwareFacts device, ProductReleases releases)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(releases);
        if (device.Development)
        {
            return new UpdateDecision(UpdateAction.None, UpdateReason.Development, null);
        }
        int target;
        UpdateReason reason;
        if (device.LockedVersion is { } locked)
        {
            (target, reason) = (locked, UpdateReason.Locked);
        }
        else if (HighestGroupRelease(device.Groups, releases.GroupVersions) is { } group)
        {
            (target, reason) = (group, UpdateReason.GroupRelease);
        }
        else if (releases.ProductDefaultVersion is { } productDefault)
        {
            (target, reason) = (productDefault, UpdateReason.ProductDefault);
        }
        else
        {
            return new UpdateDecision(UpdateAction.None, UpdateReason.NoRelease, null);
        }

        if (device.RunningVersion == target)
        {
            return new UpdateDecision(UpdateAction.UpToDate, reason, target);
        }
        if (!releases.Firmware.TryGetValue(target, out var firmware))
        {
            return new UpdateDecision(UpdateAction.FirmwareMissing, reason, target);
        }
        if (firmware.RequiredSystemVersion is { } required && device.SystemVersion is { } system && system < required)
        {
            return new UpdateDecision(UpdateAction.BlockedByDeviceOs, reason, target, required);
        }
        return new UpdateDecision(UpdateAction.Flash, reason, target, firmware.RequiredSystemVersion);
    }

    private static int? HighestGroupRelease(IReadOnlyCollection<string> groups, IReadOnlyDictionary<string, int> groupVersions)
    {
        int? best = null;
        foreach (var group in groups)
        {
            if (groupVersions.TryGetValue(group, out var version) && (best is null || version > best))
            {
                best = version;
            }
        }
        return best;
    }
}
