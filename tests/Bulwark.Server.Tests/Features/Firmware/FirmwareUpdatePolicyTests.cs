using Bulwark.Server.Features.Firmware;

namespace Bulwark.Server.Tests.Features.Firmware;

/// <summary>The update decision as a table: every combination of development flag, lock, groups, product default,
/// running version and Device OS version, each row checked against the expected action, reason and target.</summary>
public class FirmwareUpdatePolicyTests
{
    // Firmware 2, 3 and 5 run anywhere; 4 needs Device OS 6.2.0. Group "beta" has 3, "canary" has 4, "empty" has nothing.
    private static readonly ProductReleases Releases = new(
        ProductDefaultVersion: 2,
        new Dictionary<string, int> { ["beta"] = 3, ["canary"] = 4 },
        new Dictionary<int, FirmwareCandidate> { [2] = new(2, null), [3] = new(3, 6000), [4] = new(4, 6200), [5] = new(5, null) });

    private static readonly ProductReleases NoDefault = Releases with { ProductDefaultVersion = null };

    public static TheoryData<string, bool, int?, string[], bool, int?, int?, UpdateAction, UpdateReason, int?> Table => new()
    {
        // name, development, lock, groups, product default?, running, system, action, reason, target
        { "no release at all", false, null, [], false, 1, 6200, UpdateAction.None, UpdateReason.NoRelease, null },
        { "groups without a release, no default", false, null, ["empty"], false, 1, 6200, UpdateAction.None, UpdateReason.NoRelease, null },
        { "product default moves a plain device", false, null, [], true, 1, 6200, UpdateAction.Flash, UpdateReason.ProductDefault, 2 },
        { "product default, already running it", false, null, [], true, 2, 6200, UpdateAction.UpToDate, UpdateReason.ProductDefault, 2 },
        { "product default flashes down too", false, null, [], true, 5, 6200, UpdateAction.Flash, UpdateReason.ProductDefault, 2 },
        { "never heard: product default", false, null, [], true, null, null, UpdateAction.Flash, UpdateReason.ProductDefault, 2 },
        { "group without a release falls back to default", false, null, ["empty"], true, 1, 6200, UpdateAction.Flash, UpdateReason.ProductDefault, 2 },
        { "group release beats product default", false, null, ["beta"], true, 2, 6200, UpdateAction.Flash, UpdateReason.GroupRelease, 3 },
        { "group release without a product default", false, null, ["beta"], false, 1, 6200, UpdateAction.Flash, UpdateReason.GroupRelease, 3 },
        { "group release, already running it", false, null, ["beta"], true, 3, 6200, UpdateAction.UpToDate, UpdateReason.GroupRelease, 3 },
        { "highest version among the groups wins", false, null, ["beta", "canary"], true, 2, 6200, UpdateAction.Flash, UpdateReason.GroupRelease, 4 },
        { "highest wins whatever the order", false, null, ["canary", "empty", "beta"], true, 3, 6200, UpdateAction.Flash, UpdateReason.GroupRelease, 4 },
        { "group release needs a newer Device OS", false, null, ["canary"], true, 2, 6000, UpdateAction.BlockedByDeviceOs, UpdateReason.GroupRelease, 4 },
        { "unknown Device OS is not blocked", false, null, ["canary"], true, 2, null, UpdateAction.Flash, UpdateReason.GroupRelease, 4 },
        { "Device OS exactly the required one", false, null, ["canary"], true, 2, 6200, UpdateAction.Flash, UpdateReason.GroupRelease, 4 },
        { "lock beats group and default", false, 5, ["canary"], true, 2, 6200, UpdateAction.Flash, UpdateReason.Locked, 5 },
        { "locked and already running it", false, 5, [], true, 5, 6200, UpdateAction.UpToDate, UpdateReason.Locked, 5 },
        { "lock to an older version flashes down", false, 2, ["canary"], true, 4, 6200, UpdateAction.Flash, UpdateReason.Locked, 2 },
        { "lock without any release", false, 3, [], false, 1, 6200, UpdateAction.Flash, UpdateReason.Locked, 3 },
        { "lock to a missing version", false, 9, [], true, 2, 6200, UpdateAction.FirmwareMissing, UpdateReason.Locked, 9 },
        { "lock needing a newer Device OS", false, 4, [], true, 2, 5900, UpdateAction.BlockedByDeviceOs, UpdateReason.Locked, 4 },
        { "development ignores the product default", true, null, [], true, 1, 6200, UpdateAction.None, UpdateReason.Development, null },
        { "development ignores group releases", true, null, ["canary"], true, 1, 6200, UpdateAction.None, UpdateReason.Development, null },
        { "development ignores its own lock", true, 5, ["beta"], true, 1, 6200, UpdateAction.None, UpdateReason.Development, null },
    };

    [Theory, MemberData(nameof(Table))]
    public void Decides_each_row(string name, bool development, int? locked, string[] groups, bool productDefault, int? running, int? system,
        UpdateAction action, UpdateReason reason, int? target)
    {
        var decision = FirmwareUpdatePolicy.Decide(new DeviceFirmwareFacts(running, system, development, locked, groups), productDefault ? Releases : NoDefault);
        Assert.True(decision.Action == action && decision.Reason == reason && decision.TargetVersion == target,
            $"{name}: got {decision}");
    }

    /// <summary>Every combination of the inputs against the rules written the other way round (candidates in order).</summary>
    [Fact]
    public void Every_combination_follows_the_precedence_rules()
    {
        string[][] groupSets = [[], ["empty"], ["beta"], ["canary"], ["beta", "canary"], ["canary", "beta", "empty"]];
        int?[] locks = [null, 2, 4, 5, 9];
        int?[] runnings = [null, 1, 2, 3, 4, 5, 9];
        int?[] systems = [null, 5900, 6000, 6200, 6300];
        var count = 0;
        foreach (var development in new[] { false, true })
        foreach (var locked in locks)
        foreach (var groups in groupSets)
        foreach (var releases in new[] { Releases, NoDefault })
        foreach (var running in runnings)
        foreach (var system in systems)
        {
            count++;
            var decision = FirmwareUpdatePolicy.Decide(new DeviceFirmwareFacts(running, system, development, locked, groups), releases);
            var groupVersions = groups.Where(releases.GroupVersions.ContainsKey).Select(g => (int?)releases.GroupVersions[g]).ToList();
            int? expected = development ? null : locked ?? groupVersions.Max() ?? releases.ProductDefaultVersion;
            Assert.Equal(expected, decision.TargetVersion);
            if (expected is null)
            {
                Assert.Equal(UpdateAction.None, decision.Action);
                continue;
            }
            var blocked = releases.Firmware.TryGetValue(expected.Value, out var fw) && fw.RequiredSystemVersion > system;
            var wanted = running == expected ? UpdateAction.UpToDate
                : !releases.Firmware.ContainsKey(expected.Value) ? UpdateAction.FirmwareMissing
                : blocked ? UpdateAction.BlockedByDeviceOs
                : UpdateAction.Flash;
            Assert.Equal(wanted, decision.Action);
        }
        Assert.Equal(2 * 5 * 6 * 2 * 7 * 5, count);
    }
}
