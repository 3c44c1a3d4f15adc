using System.Collections.Frozen;

namespace Bulwark.Server.Features.Teams;

/// <summary>The permission table: for every scope, the weakest role that holds it. Roles form a chain
/// (View-only &lt; Support &lt; Developer &lt; Administrator &lt; Owner), so a role holds a scope when it is at
/// least that role. Pure data and pure functions: every later feature's endpoint names a scope from
/// <see cref="Scopes"/> and this table decides who may call it. Adding a scope without a row here fails at startup.</summary>
public static class RolePermissions
{
    private static readonly FrozenDictionary<string, TeamRole> MinimumRole = new Dictionary<string, TeamRole>(StringComparer.Ordinal)
    {
        // View-only: see everything about the fleet, change nothing.
        [Scopes.ProductsList] = TeamRole.ViewOnly,
        [Scopes.ProductsGet] = TeamRole.ViewOnly,
        [Scopes.OrganizationGet] = TeamRole.ViewOnly,
        [Scopes.TeamsUsersList] = TeamRole.ViewOnly,
        [Scopes.ConfigurationGet] = TeamRole.ViewOnly,
        [Scopes.DevicesList] = TeamRole.ViewOnly,
        [Scopes.DevicesGet] = TeamRole.ViewOnly,
        [Scopes.DevicesDiagnosticsGet] = TeamRole.ViewOnly,
        [Scopes.DevicesDiagnosticsMetadataGet] = TeamRole.ViewOnly,
        [Scopes.DevicesDiagnosticsSummaryGet] = TeamRole.ViewOnly,
        [Scopes.EventsGet] = TeamRole.ViewOnly,
        [Scopes.FirmwareList] = TeamRole.ViewOnly,
        [Scopes.FirmwareGet] = TeamRole.ViewOnly,
        [Scopes.GroupsList] = TeamRole.ViewOnly,
        [Scopes.GroupsGet] = TeamRole.ViewOnly,
        [Scopes.GroupsImpactGet] = TeamRole.ViewOnly,
        [Scopes.IntegrationsList] = TeamRole.ViewOnly,
        [Scopes.IntegrationsGet] = TeamRole.ViewOnly,
        [Scopes.LocationsGet] = TeamRole.ViewOnly,
        [Scopes.SimsList] = TeamRole.ViewOnly,
        [Scopes.SimsGet] = TeamRole.ViewOnly,
        [Scopes.SimsStatusGet] = TeamRole.ViewOnly,
        [Scopes.SimsUsageGet] = TeamRole.ViewOnly,

        // Support: front-line troubleshooting of single devices and the customers who own them.
        [Scopes.CustomersList] = TeamRole.Support,
        [Scopes.DevicesPing] = TeamRole.Support,
        [Scopes.DevicesUpdate] = TeamRole.Support,
        [Scopes.DevicesVariableGet] = TeamRole.Support,
        [Scopes.DevicesFunctionCall] = TeamRole.Support,
        [Scopes.DevicesDiagnosticsUpdate] = TeamRole.Support,

        // Developer: build and run the fleet (firmware, devices, groups, integrations), no team or billing power.
        // Firmware binaries are intellectual property: viewers see the release list, not the bytes.
        [Scopes.DevicesImport] = TeamRole.Developer,
        [Scopes.DevicesRemove] = TeamRole.Developer,
        [Scopes.DevicesRelease] = TeamRole.Developer,
        [Scopes.EventsSend] = TeamRole.Developer,
        [Scopes.FirmwareCreate] = TeamRole.Developer,
        [Scopes.FirmwareUpdate] = TeamRole.Developer,
        [Scopes.FirmwareRelease] = TeamRole.Developer,
        [Scopes.FirmwareRemove] = TeamRole.Developer,
        [Scopes.FirmwareBinaryGet] = TeamRole.Developer,
        [Scopes.GroupsCreate] = TeamRole.Developer,
        [Scopes.GroupsUpdate] = TeamRole.Developer,
        [Scopes.GroupsRemove] = TeamRole.Developer,
        [Scopes.IntegrationsCreate] = TeamRole.Developer,
        [Scopes.IntegrationsUpdate] = TeamRole.Developer,
        [Scopes.IntegrationsRemove] = TeamRole.Developer,
        [Scopes.IntegrationsTest] = TeamRole.Developer,
        [Scopes.ConfigurationUpdate] = TeamRole.Developer,
        [Scopes.SimsImport] = TeamRole.Developer,
        [Scopes.SimsUpdate] = TeamRole.Developer,
        [Scopes.SimsRemove] = TeamRole.Developer,
        [Scopes.CustomersCreate] = TeamRole.Developer,
        [Scopes.CustomersUpdate] = TeamRole.Developer,
        [Scopes.CustomersRemove] = TeamRole.Developer,
        [Scopes.ClientsList] = TeamRole.Developer,

        // Administrator: who may act (team, OAuth clients, API users), product and organization settings,
        // the audit log, billing.
        [Scopes.ClientsCreate] = TeamRole.Administrator,
        [Scopes.ClientsUpdate] = TeamRole.Administrator,
        [Scopes.ClientsRemove] = TeamRole.Administrator,
        [Scopes.TeamsUsersInvite] = TeamRole.Administrator,
        [Scopes.TeamsUsersUpdate] = TeamRole.Administrator,
        [Scopes.TeamsUsersRemove] = TeamRole.Administrator,
        [Scopes.ProductsCreate] = TeamRole.Administrator,
        [Scopes.ProductsUpdate] = TeamRole.Administrator,
        [Scopes.OrganizationUpdate] = TeamRole.Administrator,
        [Scopes.AuditList] = TeamRole.Administrator,
        [Scopes.DevicesUnprotect] = TeamRole.Administrator,
        [Scopes.ServiceAgreementsList] = TeamRole.Administrator,
        [Scopes.ServiceAgreementsUsageSummaryGet] = TeamRole.Administrator,
        [Scopes.ServiceAgreementsPricingTermsGet] = TeamRole.Administrator,
        [Scopes.ServiceAgreementsUsageReportsGet] = TeamRole.Administrator,
        [Scopes.ServiceAgreementsUsageReportsCreate] = TeamRole.Administrator,
        [Scopes.ServiceAgreementsNotificationsList] = TeamRole.Administrator,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    static RolePermissions()
    {
        var missing = Scopes.All.Where(s => !MinimumRole.ContainsKey(s)).ToList();
        var unknown = MinimumRole.Keys.Where(s => !Scopes.IsKnown(s)).ToList();
        if (missing.Count > 0 || unknown.Count > 0)
        {
            throw new InvalidOperationException(
                $"The permission table is out of step with Scopes: missing [{string.Join(", ", missing)}], unknown [{string.Join(", ", unknown)}]");
        }
    }

    /// <summary>The weakest role that holds the scope.</summary>
    public static TeamRole MinimumRoleFor(string scope) =>
        MinimumRole.TryGetValue(scope, out var role) ? role : throw new ArgumentException($"Unknown scope '{scope}'", nameof(scope));

    /// <summary>Whether a member with this role may do what the scope names. Unknown scopes are never allowed.</summary>
    public static bool Allows(TeamRole role, string scope) => MinimumRole.TryGetValue(scope, out var minimum) && role >= minimum;

    /// <summary>Every scope the role holds.</summary>
    public static IReadOnlySet<string> ScopesOf(TeamRole role) =>
        Scopes.All.Where(s => Allows(role, s)).ToHashSet(StringComparer.Ordinal);

    /// <summary>The roles that hold the scope, weakest first.</summary>
    public static IReadOnlyList<TeamRole> RolesHolding(string scope) => TeamRoles.All.Where(r => Allows(r, scope)).ToList();

    /// <summary>Whether a caller holding <paramref name="callerScopes"/> (and, for a person, <paramref name="callerRole"/>) may
    /// give someone <paramref name="role"/>: nobody hands out power they do not hold themselves, and only an Owner makes an Owner.</summary>
    public static bool MayGrantRole(TeamRole? callerRole, IReadOnlySet<string> callerScopes, TeamRole role)
    {
        ArgumentNullException.ThrowIfNull(callerScopes);
        if (role == TeamRole.Owner)
        {
            return callerRole == TeamRole.Owner;
        }
        return callerRole is { } r ? r >= role : ScopesOf(role).IsSubsetOf(callerScopes);
    }

    /// <summary>Whether a caller may give an API user these scopes: only scopes the caller holds.</summary>
    public static bool MayGrantScopes(IReadOnlySet<string> callerScopes, IEnumerable<string> scopes) => scopes.All(callerScopes.Contains);

    /// <summary>Whether a caller may change or remove a member who holds <paramref name="targetRole"/> (null: an API user).
    /// Owners are touched only by Owners; everyone else by whoever holds the team scope.</summary>
    public static bool MayManageMember(TeamRole? callerRole, TeamRole? targetRole) =>
        targetRole != TeamRole.Owner || callerRole == TeamRole.Owner;
}
