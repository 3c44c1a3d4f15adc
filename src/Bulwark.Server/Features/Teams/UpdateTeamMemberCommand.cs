using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Http;

namespace Bulwark.Server.Features.Teams;

/// <summary><c>PUT|POST .../team/:username</c>: a person's <c>{role}</c>, or an API user's <c>{friendly_name?, scopes?}</c>.
/// New scopes come with a fresh token (the old one stops working), as on Particle.</summary>
public static class UpdateTeamMemberCommand
{
    public static async Task<IResult> HandleAsync(string username, HttpContext context, BulwarkDbContext db, AuditLog audit,
        AccessTokenIssuer issuer, AccessTokenCache cache, TimeProvider clock)
    {
        var grant = context.Grant();
        var fields = await RequestFields.ReadAsync(context.Request);
        if (await TeamEndpoints.FindMemberAsync(db, grant, username, context.RequestAborted) is not var (member, user))
        {
            return ApiProblem.NotFound($"{username} is not a member of this team");
        }
        return user.IsProgrammatic
            ? await UpdateApiUserAsync(context, grant, fields, member, user, db, audit, issuer, cache, clock)
            : await ChangeRoleAsync(context, grant, fields, member, user, db, audit);
    }

    private static async Task<IResult> ChangeRoleAsync(HttpContext context, AccessGrant grant, RequestFields fields, TeamMember member, User user,
        BulwarkDbContext db, AuditLog audit)
    {
        var roleText = fields.String("role");
        if (string.IsNullOrWhiteSpace(roleText))
        {
            return ApiProblem.BadRequest($"role is required; roles are {TeamRoles.Choices}", "invalid_role");
        }
        if (!TeamRoles.TryParse(roleText, out var role))
        {
            return ApiProblem.BadRequest($"Unknown role '{roleText}'; roles are {TeamRoles.Choices}", "invalid_role");
        }
        var current = TeamRoles.Parse(member.Role!);
        if (!RolePermissions.MayManageMember(grant.Role, current))
        {
            return ApiProblem.Forbidden("Only an Owner can change an Owner's role");
        }
        if (role == TeamRole.Owner && grant.Product is { OrganizationId: not null })
        {
            return ApiProblem.BadRequest("The Owners of an organization's product are the organization's Owners", "invalid_role");
        }
        if (!RolePermissions.MayGrantRole(grant.Role, grant.Scopes, role))
        {
            return ApiProblem.Forbidden($"You cannot give the {role.Name()} role: it holds more than you do");
        }
        if (current == role)
        {
            return TypedResults.Json(Updated(user, role), ApiJson.Options);
        }
        if (current == TeamRole.Owner && await TeamEndpoints.OwnerCountAsync(db, grant, context.RequestAborted) <= 1)
        {
            return LastOwner();
        }
        member.Role = role.Id();
        await audit.RecordAsync(db, context, AuditEventType.TeamMemberRoleChanged, grant.AuditSubject, grant.Caller.UserId, grant.Caller.Username,
            new Dictionary<string, object?> { ["target"] = user.Username, ["target_id"] = user.Id, ["from"] = current.Name(), ["to"] = role.Name() });
        return TypedResults.Json(Updated(user, role), ApiJson.Options);
    }

    private static async Task<IResult> UpdateApiUserAsync(HttpContext context, AccessGrant grant, RequestFields fields, TeamMember member, User user,
        BulwarkDbContext db, AuditLog audit, AccessTokenIssuer issuer, AccessTokenCache cache, TimeProvider clock)
    {
        if (fields.Has("role"))
        {
            return ApiProblem.BadRequest("API users have scopes, not a role: send {friendly_name, scopes}", "invalid_role");
        }
        var friendlyName = fields.String("friendly_name")?.Trim();
        var requestedScopes = fields.StringList("scopes");
        if (friendlyName is null && requestedScopes is null)
        {
            return ApiProblem.BadRequest("Nothing to update: send friendly_name or scopes");
        }
        // Editing an API user must not hand the caller a token, or a name, for more than the caller holds.
        var currentScopes = ProductAccess.ParseScopes(member.Scopes);
        if (!RolePermissions.MayGrantScopes(grant.Scopes, currentScopes.Where(Scopes.IsKnown)))
        {
            return ApiProblem.Forbidden("This API user holds scopes you do not hold; you cannot change it");
        }
        var changes = new Dictionary<string, object?> { ["target"] = user.Username, ["target_id"] = user.Id };
        if (friendlyName is not null && friendlyName != member.FriendlyName)
        {
            if (friendlyName.Length is 0 or > 100)
            {
                return ApiProblem.BadRequest("friendly_name must be 1 to 100 characters");
            }
            changes["friendly_name"] = new[] { member.FriendlyName, friendlyName };
            member.FriendlyName = friendlyName;
        }
        TokenResponse? token = null;
        IReadOnlyList<string> scopes = currentScopes;
        if (requestedScopes is not null)
        {
            var (checkedScopes, problem) = TeamEndpoints.CheckScopes(grant, requestedScopes);
            if (checkedScopes is null)
            {
                return problem!;
            }
            if (!checkedScopes.ToHashSet(StringComparer.Ordinal).SetEquals(currentScopes))
            {
                changes["scopes"] = new[] { currentScopes, checkedScopes };
                member.Scopes = string.Join(' ', checkedScopes);
                scopes = checkedScopes;
                await RegenerateApiUserTokenCommand.RevokeTokensAsync(db, user.Id, clock, context.RequestAborted);
                token = issuer.Issue(db, user.Id, AddTeamMemberCommand.ApiUserTokenClient, new TokenLifetime(null));
            }
        }
        if (changes.Count > 2)
        {
            await audit.RecordAsync(db, context, AuditEventType.ApiUserUpdated, grant.AuditSubject, grant.Caller.UserId, grant.Caller.Username, changes);
            cache.EvictUser(user.Id);
        }
        return TypedResults.Json(new TeamMemberUpdatedResponse(true, new TeamMemberUpdated(user.Username, null, member.FriendlyName, scopes,
            token is null ? null : [new ApiUserToken(token.AccessToken)])), ApiJson.Options);
    }

    private static TeamMemberUpdatedResponse Updated(User user, TeamRole role) =>
        new(true, new TeamMemberUpdated(user.Username, TeamEndpoints.RoleResponse(role), null, null, null));

    internal static IResult LastOwner() =>
        ApiProblem.BadRequest("This is the last Owner: make someone else an Owner first, so the team is never left without one", "last_owner");
}
