using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Teams;

/// <summary><c>DELETE .../team/:username</c>. A person loses access at once on every token they hold (permissions are
/// read per request); leaving an organization also ends their product memberships in it. An API user is deleted: its
/// token is revoked. API users someone created keep working after that person is removed.</summary>
public static class RemoveTeamMemberCommand
{
    public static async Task<IResult> HandleAsync(string username, HttpContext context, BulwarkDbContext db, AuditLog audit,
        AccessTokenCache cache, TimeProvider clock)
    {
        var grant = context.Grant();
        if (await TeamEndpoints.FindMemberAsync(db, grant, username, context.RequestAborted) is not var (member, user))
        {
            return ApiProblem.NotFound($"{username} is not a member of this team");
        }
        var role = member.Role is null ? (TeamRole?)null : TeamRoles.Parse(member.Role);
        if (!RolePermissions.MayManageMember(grant.Role, role))
        {
            return ApiProblem.Forbidden("Only an Owner can remove an Owner");
        }
        if (role == TeamRole.Owner && await TeamEndpoints.OwnerCountAsync(db, grant, context.RequestAborted) <= 1)
        {
            return UpdateTeamMemberCommand.LastOwner();
        }
        db.TeamMembers.Remove(member);
        var details = new Dictionary<string, object?> { ["target"] = user.Username, ["target_id"] = user.Id };
        AuditEventType type;
        if (user.IsProgrammatic)
        {
            type = AuditEventType.ApiUserDeleted;
            details["revoked_tokens"] = await RegenerateApiUserTokenCommand.RevokeTokensAsync(db, user.Id, clock, context.RequestAborted);
        }
        else
        {
            type = AuditEventType.TeamMemberRemoved;
            details["role"] = role!.Value.Name();
            if (grant.Product is null)
            {
                var orgId = grant.Organization!.Id;
                var productMemberships = await db.TeamMembers
                    .Where(m => m.UserId == user.Id && m.ProductId != null && db.Products.Any(p => p.Id == m.ProductId && p.OrganizationId == orgId))
                    .ToListAsync(context.RequestAborted);
                db.TeamMembers.RemoveRange(productMemberships);
                details["product_memberships_removed"] = productMemberships.Select(m => m.ProductId).ToList();
            }
        }
        await audit.RecordAsync(db, context, type, grant.AuditSubject, grant.Caller.UserId, grant.Caller.Username, details);
        if (user.IsProgrammatic)
        {
            cache.EvictUser(user.Id);
        }
        return TypedResults.Json(new OkResponse(true), ApiJson.Options);
    }
}
