using Bulwark.Contracts;
using Bulwark.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Teams;

/// <summary><c>GET .../team</c>: every member with role, <c>no_mfa</c>, last activity and live token count, so an
/// administrator can chase the members without two-step authentication. Owners first, API users last.</summary>
public static class ListTeamQuery
{
    public static async Task<IResult> HandleAsync(HttpContext context, BulwarkDbContext db, TimeProvider clock)
    {
        var grant = context.Grant();
        var now = clock.GetUtcNow().UtcDateTime;
        var rows = await TeamEndpoints.MembersOf(db, grant).AsNoTracking()
            .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new { m, u })
            .ToListAsync(context.RequestAborted);
        var userIds = rows.Select(r => r.u.Id).ToList();
        var tokenCounts = await db.AccessTokens.AsNoTracking()
            .Where(t => userIds.Contains(t.UserId) && t.RevokedAt == null && (t.ExpiresAt == null || t.ExpiresAt > now))
            .GroupBy(t => t.UserId)
            .Select(g => new { UserId = g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.UserId, x => x.Count, context.RequestAborted);
        var team = rows
            .OrderBy(r => r.m.Role is null ? 1 : 0)
            .ThenByDescending(r => r.m.Role is null ? 0 : (int)TeamRoles.Parse(r.m.Role))
            .ThenBy(r => r.u.NormalizedUsername, StringComparer.Ordinal)
            .Select(r => new TeamMemberResponse(
                r.u.Id,
                r.u.Username,
                r.m.Role is null ? null : TeamEndpoints.RoleResponse(TeamRoles.Parse(r.m.Role)),
                NoMfa: !r.u.IsProgrammatic && !r.u.MfaEnabled,
                ScimProvisioned: false,
                NoPassword: r.u.IsProgrammatic,
                IsProgrammatic: r.u.IsProgrammatic,
                r.m.FriendlyName,
                r.m.Role is null ? ProductAccess.ParseScopes(r.m.Scopes) : null,
                r.m.ProductId,
                r.m.Role is null ? r.m.OrganizationId : null,
                r.u.LastActiveAt,
                tokenCounts.GetValueOrDefault(r.u.Id),
                r.m.CreatedAt))
            .ToList();
        return TypedResults.Json(new TeamListResponse(true, team), ApiJson.Options);
    }
}
