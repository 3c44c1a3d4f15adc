using Bulwark.Server.Features.Admission;

namespace Bulwark.Server.Tests.Features.Admission;

/// <summary>The admission rules of issue 5 as a table, checked against every combination of the inputs: for each
/// combination the first matching row of <see cref="Rules"/> gives the expected outcome, and every row must be the
/// answer for at least one combination (so no rule is dead or shadowed).</summary>
public class AdmissionDecisionTests
{
    private const int ProductA = 1001;
    private const int ProductB = 1002;

    /// <summary>How the cloud's product and the firmware's product relate.</summary>
    public enum Relation { Match, CloudAFirmwareB, CloudBFirmwareA, CloudAFirmwareNone, UnknownToProduct, NoProduct }

    public enum Os { Unknown, V1, V3, V4, V6 }

    private static readonly Dictionary<Os, int?> ModuleVersion = new()
    {
        [Os.Unknown] = null,
        [Os.V1] = 1512,
        [Os.V3] = 3300,
        [Os.V4] = 4000,
        [Os.V6] = 6200,
    };

    private static readonly Os[] Legacy = [Os.V1, Os.V3];
    private static readonly Os[] Modern = [Os.V4, Os.V6, Os.Unknown];

    /// <summary>One line of the specification; null means "any".</summary>
    private sealed record Rule(
        string Name,
        Relation[] Relations,
        AdmissionOutcome Expected,
        Os[]? Os = null,
        UnrecognizedDevicePolicyKind[]? Policy = null,
        DeviceOwnership[]? Ownership = null,
        ProductHistory[]? History = null,
        bool? PlatformMatches = null)
    {
        public bool Matches(Relation r, Os os, UnrecognizedDevicePolicyKind p, DeviceOwnership o, ProductHistory h, bool platform) =>
            Relations.Contains(r) && (Os is null || Os.Contains(os)) && (Policy is null || Policy.Contains(p))
            && (Ownership is null || Ownership.Contains(o)) && (History is null || History.Contains(h))
            && (PlatformMatches is null || PlatformMatches == platform);
    }

    private static readonly Rule[] Rules =
    [
        new("IDs match: full product privileges", [Relation.Match], AdmissionOutcome.Full),
        new("Device OS 4+ reports no product ID: pre-added means full", [Relation.CloudAFirmwareNone], AdmissionOutcome.Full, Os: Modern),
        new("cloud and device disagree, either way round: limited",
            [Relation.CloudAFirmwareB, Relation.CloudBFirmwareA, Relation.CloudAFirmwareNone], AdmissionOutcome.Limited),
        new("no product anywhere: a development kit", [Relation.NoProduct], AdmissionOutcome.NotAProductDevice),
        new("removed or denied before, back with product firmware: denied list", [Relation.UnknownToProduct], AdmissionOutcome.Denied,
            History: [ProductHistory.Removed, ProductHistory.Denied]),
        new("Device OS 4.0+ not pre-added: unrecognized attempt, never quarantined or auto-approved", [Relation.UnknownToProduct],
            AdmissionOutcome.UnrecognizedAttempt, Os: Modern),
        new("auto-approve: unowned or owned by a team member is added", [Relation.UnknownToProduct], AdmissionOutcome.AutoApproved,
            Os: Legacy, Policy: [UnrecognizedDevicePolicyKind.AutoApprove], Ownership: [DeviceOwnership.Unowned, DeviceOwnership.TeamMember],
            PlatformMatches: true),
        new("auto-approve: a stranger's device (or another platform) is quarantined", [Relation.UnknownToProduct], AdmissionOutcome.Quarantined,
            Os: Legacy, Policy: [UnrecognizedDevicePolicyKind.AutoApprove]),
        new("quarantine policy (the default): unknown device on Device OS 3.x or earlier is quarantined", [Relation.UnknownToProduct],
            AdmissionOutcome.Quarantined, Os: Legacy, Policy: [UnrecognizedDevicePolicyKind.Quarantine]),
    ];

    private static (int? Cloud, int? Reported) Ids(Relation r) => r switch
    {
        Relation.Match => (ProductA, ProductA),
        Relation.CloudAFirmwareB => (ProductA, ProductB),
        Relation.CloudBFirmwareA => (ProductB, ProductA),
        Relation.CloudAFirmwareNone => (ProductA, null),
        Relation.UnknownToProduct => (null, ProductA),
        _ => (null, null),
    };

    [Fact]
    public void Every_combination_gets_the_outcome_of_the_first_matching_rule_and_every_rule_is_reachable()
    {
        var used = new HashSet<string>();
        var failures = new List<string>();
        var combinations = 0;
        foreach (var relation in Enum.GetValues<Relation>())
        foreach (var os in Enum.GetValues<Os>())
        foreach (var policy in Enum.GetValues<UnrecognizedDevicePolicyKind>())
        foreach (var ownership in Enum.GetValues<DeviceOwnership>())
        foreach (var history in Enum.GetValues<ProductHistory>())
        foreach (var platform in new[] { true, false })
        {
            combinations++;
            var rule = Rules.FirstOrDefault(r => r.Matches(relation, os, policy, ownership, history, platform));
            var label = $"{relation} os={os} policy={policy} owner={ownership} history={history} platformMatches={platform}";
            if (rule is null)
            {
                failures.Add($"{label}: no rule covers it");
                continue;
            }
            used.Add(rule.Name);
            var (cloud, reported) = Ids(relation);
            var result = AdmissionDecision.Decide(new AdmissionInput(reported, cloud, policy, platform, ownership, history, ModuleVersion[os]));
            if (result.Outcome != rule.Expected)
            {
                failures.Add($"{label}: expected {rule.Expected} ({rule.Name}), got {result.Outcome} ({result.Reason})");
            }
            var expectedProduct = result.Outcome == AdmissionOutcome.NotAProductDevice ? null : cloud ?? reported;
            if (result.ProductId != expectedProduct)
            {
                failures.Add($"{label}: decision concerns product {result.ProductId}, expected {expectedProduct}");
            }
            if (result.HasFullPrivileges != rule.Expected is AdmissionOutcome.Full or AdmissionOutcome.AutoApproved)
            {
                failures.Add($"{label}: full privileges {result.HasFullPrivileges} for {result.Outcome}");
            }
        }
        Assert.Equal(6 * 5 * 2 * 3 * 4 * 2, combinations);
        Assert.True(failures.Count == 0, $"{failures.Count} of {combinations} combinations wrong:\n" + string.Join('\n', failures.Take(50)));
        Assert.Equal(Rules.Select(r => r.Name).ToHashSet(), used);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData(0, false)]
    [InlineData(106, true)]
    [InlineData(1512, true)]
    [InlineData(2302, true)]
    [InlineData(3999, true)]
    [InlineData(4000, false)]
    [InlineData(5900, false)]
    [InlineData(6200, false)]
    public void Only_Device_OS_3_and_earlier_report_a_product_id(int? moduleVersion, bool legacy) =>
        Assert.Equal(legacy, DeviceOsVersion.ReportsProductId(moduleVersion));

    [Theory]
    [InlineData(AdmissionOutcome.Full, "full")]
    [InlineData(AdmissionOutcome.AutoApproved, "full")]
    [InlineData(AdmissionOutcome.Limited, "limited")]
    [InlineData(AdmissionOutcome.Quarantined, "none")]
    [InlineData(AdmissionOutcome.Denied, "none")]
    [InlineData(AdmissionOutcome.UnrecognizedAttempt, "none")]
    [InlineData(AdmissionOutcome.NotAProductDevice, null)]
    public void Stored_privileges_follow_the_outcome(AdmissionOutcome outcome, string? stored) =>
        Assert.Equal(stored, new AdmissionResult(outcome, 1, "").StoredPrivileges);
}
