using Bulwark.Server.Features.Teams;

namespace Bulwark.Server.Tests.Features.Teams;

/// <summary>The permission table, checked cell by cell: every scope against every role. The expected table is written
/// out again here on purpose, so a change to who may do what has to be made twice, deliberately.</summary>
public class RolePermissionsTests
{
    private const TeamRole V = TeamRole.ViewOnly;
    private const TeamRole S = TeamRole.Support;
    private const TeamRole D = TeamRole.Developer;
    private const TeamRole A = TeamRole.Administrator;

    /// <summary>The weakest role that holds each scope.</summary>
    private static readonly Dictionary<string, TeamRole> Expected = new(StringComparer.Ordinal)
    {
        ["clients:list"] = D, ["clients:create"] = A, ["clients:update"] = A, ["clients:remove"] = A,
        ["configuration:get"] = V, ["configuration:update"] = D,
        ["customers:list"] = S, ["customers:create"] = D, ["customers:update"] = D, ["customers:remove"] = D,
        ["devices:list"] = V, ["devices:get"] = V, ["devices:import"] = D, ["devices:update"] = S, ["devices:remove"] = D,
        ["devices:release"] = D, ["devices:ping"] = S,
        ["devices.variable:get"] = S, ["devices.function:call"] = S,
        ["devices.diagnostics:get"] = V, ["devices.diagnostics:update"] = S,
        ["devices.diagnostics.metadata:get"] = V, ["devices.diagnostics.summary:get"] = V,
        ["events:get"] = V, ["events:send"] = D,
        ["firmware:list"] = V, ["firmware:get"] = V, ["firmware:create"] = D, ["firmware:update"] = D, ["firmware:release"] = D,
        ["firmware:remove"] = D, ["firmware.binary:get"] = D,
        ["groups:list"] = V, ["groups:get"] = V, ["groups:create"] = D, ["groups:update"] = D, ["groups:remove"] = D, ["groups.impact:get"] = V,
        ["integrations:list"] = V, ["integrations:get"] = V, ["integrations:create"] = D, ["integrations:update"] = D,
        ["integrations:remove"] = D, ["integrations:test"] = D,
        ["locations:get"] = V,
        ["organization:get"] = V, ["organization:update"] = A,
        ["products:list"] = V, ["products:get"] = V, ["products:create"] = A, ["products:update"] = A,
        ["service_agreements:list"] = A, ["service_agreements.usage_summary:get"] = A, ["service_agreements.pricing_terms:get"] = A,
        ["service_agreements.usage_reports:get"] = A, ["service_agreements.usage_reports:create"] = A, ["service_agreements.notifications:list"] = A,
        ["sims:list"] = V, ["sims:get"] = V, ["sims:import"] = D, ["sims:update"] = D, ["sims:remove"] = D, ["sims.status:get"] = V, ["sims.usage:get"] = V,
        ["teams.users:list"] = V, ["teams.users:invite"] = A, ["teams.users:update"] = A, ["teams.users:remove"] = A,
        ["audit:list"] = A, ["devices:unprotect"] = A,
    };

    public static TheoryData<string, TeamRole> EveryScopeAndRole()
    {
        var data = new TheoryData<string, TeamRole>();
        foreach (var scope in Scopes.All)
        {
            foreach (var role in TeamRoles.All)
            {
                data.Add(scope, role);
            }
        }
        return data;
    }

    [Theory, MemberData(nameof(EveryScopeAndRole))]
    public void Each_role_holds_exactly_the_scopes_of_the_table(string scope, TeamRole role)
    {
        Assert.True(Expected.TryGetValue(scope, out var minimum), $"Scope {scope} has no row in the expected table: decide who holds it");
        Assert.Equal(role >= minimum, RolePermissions.Allows(role, scope));
        Assert.Equal(role >= minimum, RolePermissions.ScopesOf(role).Contains(scope));
        Assert.Equal(role >= minimum, RolePermissions.RolesHolding(scope).Contains(role));
    }

    [Fact]
    public void The_table_covers_every_scope_and_nothing_else()
    {
        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), Scopes.All.Order(StringComparer.Ordinal));
        Assert.Equal(Scopes.All.Count, Scopes.All.Distinct(StringComparer.Ordinal).Count());
        foreach (var scope in Scopes.All)
        {
            Assert.Matches("^[a-z_]+(\\.[a-z_]+)*:[a-z]+$", scope);
            Assert.Equal(Expected[scope], RolePermissions.MinimumRoleFor(scope));
        }
    }

    [Fact]
    public void The_particle_scope_list_is_all_there()
    {
        string[] particle =
        [
            "clients:list", "clients:create", "clients:update", "clients:remove", "configuration:get", "configuration:update",
            "customers:list", "customers:update", "customers:remove", "customers:create", "devices:list", "devices:get", "devices:import",
            "devices:update", "devices:remove", "devices:release", "devices:ping", "devices.variable:get", "devices.function:call",
            "devices.diagnostics:get", "devices.diagnostics:update", "devices.diagnostics.metadata:get", "devices.diagnostics.summary:get",
            "events:get", "events:send", "firmware:list", "firmware:get", "firmware:create", "firmware:update", "firmware:release",
            "firmware:remove", "firmware.binary:get", "groups:list", "groups:get", "groups:create", "groups:update", "groups:remove",
            "groups.impact:get", "integrations:list", "integrations:get", "integrations:create", "integrations:update", "integrations:remove",
            "integrations:test", "locations:get", "organization:get", "products:list", "products:get", "service_agreements:list",
            "service_agreements.usage_summary:get", "service_agreements.pricing_terms:get", "service_agreements.usage_reports:get",
            "service_agreements.usage_reports:create", "service_agreements.notifications:list", "sims:list", "sims:get", "sims:import",
            "sims:update", "sims:remove", "sims.status:get", "sims.usage:get", "teams.users:list", "teams.users:invite", "teams.users:update",
            "teams.users:remove",
        ];
        Assert.All(particle, s => Assert.True(Scopes.IsKnown(s), s));
    }

    [Fact]
    public void Roles_are_a_chain_and_the_owner_holds_everything()
    {
        for (var i = 1; i < TeamRoles.All.Count; i++)
        {
            Assert.True(RolePermissions.ScopesOf(TeamRoles.All[i - 1]).IsProperSubsetOf(RolePermissions.ScopesOf(TeamRoles.All[i]))
                || TeamRoles.All[i] == TeamRole.Owner);
        }
        Assert.Equal(Scopes.All.Count, RolePermissions.ScopesOf(TeamRole.Owner).Count);
        Assert.False(RolePermissions.Allows(TeamRole.Owner, "devices:explode"));
    }

    [Theory]
    [InlineData(TeamRole.Owner, TeamRole.Owner, true)]
    [InlineData(TeamRole.Administrator, TeamRole.Owner, false)]
    [InlineData(TeamRole.Administrator, TeamRole.Administrator, true)]
    [InlineData(TeamRole.Administrator, TeamRole.ViewOnly, true)]
    [InlineData(TeamRole.Developer, TeamRole.Administrator, false)]
    [InlineData(TeamRole.Developer, TeamRole.Developer, true)]
    [InlineData(TeamRole.Support, TeamRole.Developer, false)]
    public void People_grant_no_role_stronger_than_their_own(TeamRole caller, TeamRole granted, bool allowed) =>
        Assert.Equal(allowed, RolePermissions.MayGrantRole(caller, RolePermissions.ScopesOf(caller), granted));

    [Fact]
    public void An_api_user_grants_a_role_only_when_it_holds_all_of_its_scopes()
    {
        var viewOnly = RolePermissions.ScopesOf(TeamRole.ViewOnly);
        var invitePlusView = viewOnly.Append(Scopes.TeamsUsersInvite).ToHashSet(StringComparer.Ordinal);
        Assert.True(RolePermissions.MayGrantRole(null, invitePlusView, TeamRole.ViewOnly));
        Assert.False(RolePermissions.MayGrantRole(null, invitePlusView, TeamRole.Support));
        Assert.False(RolePermissions.MayGrantRole(null, new HashSet<string>([Scopes.TeamsUsersInvite]), TeamRole.ViewOnly));
        Assert.False(RolePermissions.MayGrantRole(null, RolePermissions.ScopesOf(TeamRole.Owner), TeamRole.Owner));
    }

    [Fact]
    public void Only_owners_manage_owners()
    {
        Assert.True(RolePermissions.MayManageMember(TeamRole.Owner, TeamRole.Owner));
        Assert.False(RolePermissions.MayManageMember(TeamRole.Administrator, TeamRole.Owner));
        Assert.False(RolePermissions.MayManageMember(null, TeamRole.Owner));
        Assert.True(RolePermissions.MayManageMember(TeamRole.Administrator, TeamRole.Administrator));
        Assert.True(RolePermissions.MayManageMember(null, null));
        Assert.True(RolePermissions.MayGrantScopes(new HashSet<string>(["a", "b"]), ["a"]));
        Assert.False(RolePermissions.MayGrantScopes(new HashSet<string>(["a"]), ["a", "b"]));
    }

    [Theory]
    [InlineData("Administrator", TeamRole.Administrator)]
    [InlineData("administrator", TeamRole.Administrator)]
    [InlineData("Developer", TeamRole.Developer)]
    [InlineData("Support", TeamRole.Support)]
    [InlineData("View-only", TeamRole.ViewOnly)]
    [InlineData("view-only", TeamRole.ViewOnly)]
    [InlineData("View Only", TeamRole.ViewOnly)]
    [InlineData("Owner", TeamRole.Owner)]
    public void Role_names_parse_as_particle_spells_them(string text, TeamRole role)
    {
        Assert.True(TeamRoles.TryParse(text, out var parsed));
        Assert.Equal(role, parsed);
        Assert.True(TeamRoles.TryParse(role.Name(), out parsed));
        Assert.Equal(role, parsed);
        Assert.True(TeamRoles.TryParse(role.Id(), out parsed));
        Assert.Equal(role, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("Boss")]
    [InlineData("superuser")]
    public void Unknown_roles_do_not_parse(string? text) => Assert.False(TeamRoles.TryParse(text, out _));
}
