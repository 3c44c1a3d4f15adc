using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Accounts;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Teams;

/// <summary>Product and organization teams, the same on <c>/v1/products/:productIdOrSlug/team</c> and
/// <c>/v1/orgs/:orgIdOrSlug/team</c>: list, invite a person or create an API user, change a role or an API user's
/// scopes, remove, and regenerate an API user's token.</summary>
public static class TeamEndpoints
{
    public static IServiceCollection AddTeams(this IServiceCollection services) => services.AddScoped<ProductAccess>();

    /// <summary>Enforces every endpoint's <see cref="RequiredPermission"/>; goes right after authentication and authorization.</summary>
    public static IApplicationBuilder UseTeamAuthorization(this IApplicationBuilder app) => app.UseMiddleware<TeamAuthorizationMiddleware>();

    public static IEndpointRouteBuilder MapTeamEndpoints(this IEndpointRouteBuilder app)
    {
        foreach (var prefix in new[] { "/v1/products/{productIdOrSlug}/team", "/v1/orgs/{orgIdOrSlug}/team" })
        {
            var team = app.MapGroup(prefix);
            team.MapGet("", ListTeamQuery.HandleAsync).RequirePermission(Scopes.TeamsUsersList);
            team.MapPost("", AddTeamMemberCommand.HandleAsync).RequirePermission(Scopes.TeamsUsersInvite);
            // Particle's docs say PUT, its API export says POST: take both.
            team.MapPut("/{username}", UpdateTeamMemberCommand.HandleAsync).RequirePermission(Scopes.TeamsUsersUpdate);
            team.MapPost("/{username}", UpdateTeamMemberCommand.HandleAsync).RequirePermission(Scopes.TeamsUsersUpdate);
            team.MapDelete("/{username}", RemoveTeamMemberCommand.HandleAsync).RequirePermission(Scopes.TeamsUsersRemove);
            team.MapPut("/{username}/token", RegenerateApiUserTokenCommand.HandleAsync).RequirePermission(Scopes.TeamsUsersUpdate);
            team.MapPost("/{username}/token", RegenerateApiUserTokenCommand.HandleAsync).RequirePermission(Scopes.TeamsUsersUpdate);
        }
        return app;
    }

    /// <summary>The memberships of the grant's product or organization (tracked, for changes).</summary>
    internal static IQueryable<TeamMember> MembersOf(BulwarkDbContext db, AccessGrant grant) => grant.Product is { } product
        ? db.TeamMembers.Where(m => m.ProductId == product.Id)
        : db.TeamMembers.Where(m => m.OrganizationId == grant.Organization!.Id);

    /// <summary>One member of the grant's team with their account, found by username.</summary>
    internal static async Task<(TeamMember Member, User User)?> FindMemberAsync(BulwarkDbContext db, AccessGrant grant, string username,
        CancellationToken cancellationToken)
    {
        var normalized = AccountEndpoints.Normalize(username);
        var found = await MembersOf(db, grant)
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new { m, u })
            .Where(x => x.u.NormalizedUsername == normalized)
            .FirstOrDefaultAsync(cancellationToken);
        return found is null ? null : (found.m, found.u);
    }

    /// <summary>How many Owners the grant's team has (people only).</summary>
    internal static Task<int> OwnerCountAsync(BulwarkDbContext db, AccessGrant grant, CancellationToken cancellationToken)
    {
        var owner = TeamRole.Owner.Id();
        return MembersOf(db, grant).CountAsync(m => m.Role == owner, cancellationToken);
    }

    internal static TeamRoleResponse RoleResponse(TeamRole role) => new(role.Id(), role.Name());

    /// <summary>Validates requested API-user scopes: known, not empty, and all held by the caller.</summary>
    internal static (IReadOnlyList<string>? Scopes, IResult? Problem) CheckScopes(AccessGrant grant, IReadOnlyList<string>? requested)
    {
        if (requested is null || requested.Count == 0)
        {
            return (null, Http.ApiProblem.BadRequest("scopes is required: a list such as [\"devices:list\", \"events:get\"]", "invalid_scope"));
        }
        var scopes = requested.Select(s => s.Trim()).Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        var unknown = scopes.Where(s => !Teams.Scopes.IsKnown(s)).ToList();
        if (unknown.Count > 0 || scopes.Count == 0)
        {
            return (null, Http.ApiProblem.BadRequest(
                $"Unknown scope{(unknown.Count == 1 ? "" : "s")}: {string.Join(", ", unknown)}. Known scopes: {string.Join(", ", Teams.Scopes.All)}",
                "invalid_scope"));
        }
        if (!RolePermissions.MayGrantScopes(grant.Scopes, scopes))
        {
            return (null, Http.ApiProblem.Forbidden(
                $"You cannot give an API user scopes you do not hold: {string.Join(", ", scopes.Where(s => !grant.Has(s)))}"));
        }
        return (scopes, null);
    }
}
