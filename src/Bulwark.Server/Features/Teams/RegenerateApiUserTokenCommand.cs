using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Teams;

/// <summary><c>PUT|POST .../team/:username/token</c>: revokes an API user's token and returns a new one, once. The caller
/// must hold every scope of the API user, or regenerating would hand them a token stronger than themselves.</summary>
public static class RegenerateApiUserTokenCommand
{
    public static async Task<IResult> HandleAsync(string username, HttpContext context, BulwarkDbContext db, AuditLog audit,
        AccessTokenIssuer issuer, AccessTokenCache cache, TimeProvider clock)
    {
        var grant = context.Grant();
        if (await TeamEndpoints.FindMemberAsync(db, grant, username, context.RequestAborted) is not var (member, user))
        {
            return ApiProblem.NotFound($"{username} is not a member of this team");
        }
        if (!user.IsProgrammatic)
        {
            return ApiProblem.BadRequest("Only API users have a token to regenerate; people manage their own tokens");
        }
        var scopes = ProductAccess.ParseScopes(member.Scopes);
        if (!RolePermissions.MayGrantScopes(grant.Scopes, scopes.Where(Scopes.IsKnown)))
        {
            return ApiProblem.Forbidden("This API user holds scopes you do not hold; you cannot take a token for it");
        }
        var revoked = await RevokeTokensAsync(db, user.Id, clock, context.RequestAborted);
        var token = issuer.Issue(db, user.Id, AddTeamMemberCommand.ApiUserTokenClient, new TokenLifetime(null));
        await audit.RecordAsync(db, context, AuditEventType.ApiUserTokenRegenerated, grant.AuditSubject, grant.Caller.UserId, grant.Caller.Username,
            new Dictionary<string, object?> { ["target"] = user.Username, ["target_id"] = user.Id, ["revoked_tokens"] = revoked });
        cache.EvictUser(user.Id);
        return TypedResults.Json(new TeamMemberUpdatedResponse(true, new TeamMemberUpdated(user.Username, null, member.FriendlyName, scopes,
            [new ApiUserToken(token.AccessToken)])), ApiJson.Options);
    }

    /// <summary>Marks every live token of the user revoked (the caller saves); answers how many.</summary>
    internal static async Task<int> RevokeTokensAsync(BulwarkDbContext db, string userId, TimeProvider clock, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var tokens = await db.AccessTokens.Where(t => t.UserId == userId && t.RevokedAt == null).ToListAsync(cancellationToken);
        foreach (var token in tokens)
        {
            token.RevokedAt = now;
        }
        return tokens.Count;
    }
}
