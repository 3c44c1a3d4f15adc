using System.Text;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Accounts;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Mfa;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Auth;

/// <summary>Listing and revoking access tokens (<c>/v1/access_tokens...</c>).</summary>
public static class AccessTokenEndpoints
{
    public static IServiceCollection AddAccessTokens(this IServiceCollection services)
    {
        services.AddSingleton<AccessTokenCache>();
        services.AddSingleton<TokenUsageRecorder>();
        services.AddHostedService(sp => sp.GetRequiredService<TokenUsageRecorder>());
        services.AddSingleton<AccessTokenIssuer>();
        services.AddSingleton(sp => new LoginThrottle(sp.GetRequiredService<Hosting.BulwarkOptions>().LoginThrottle, sp.GetRequiredService<TimeProvider>()));
        return services;
    }

    public static IEndpointRouteBuilder MapAccessTokenEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/access_tokens", ListAsync).AllowAnonymous();
        app.MapGet("/v1/access_tokens/current", CurrentAsync).RequireAuthorization();
        app.MapDelete("/v1/access_tokens/current", RevokeCurrentAsync).RequireAuthorization();
        app.MapDelete("/v1/access_tokens", RevokeAllAsync).RequireAuthorization();
        app.MapDelete("/v1/access_tokens/{token}", RevokeOneAsync).AllowAnonymous();
        return app;
    }

    /// <summary>Listing needs the password (HTTP Basic), and the second factor when it is on, as on Particle:
    /// a stolen token alone must not reveal the others.</summary>
    private static async Task<IResult> ListAsync(HttpContext context, BulwarkDbContext db, PasswordHashing hashing,
        LoginThrottle throttle, MfaVerifier mfa, AuditLog audit, TimeProvider clock)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"Bulwark\"";
            return ApiProblem.Create(401, "invalid_request", "Listing tokens requires HTTP Basic authentication with your username and password");
        }
        string username, password;
        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return ApiProblem.BadRequest("The Basic authorization header must hold username:password");
            }
            username = decoded[..colon];
            password = decoded[(colon + 1)..];
        }
        catch (FormatException)
        {
            return ApiProblem.BadRequest("The Basic authorization header is not valid base64");
        }
        var normalized = AccountEndpoints.Normalize(username);
        var address = context.Connection.RemoteIpAddress?.ToString();
        var now = clock.GetUtcNow().UtcDateTime;
        if (throttle.LockedUntil(normalized, address) is not null)
        {
            return ApiProblem.TooManyRequests("Too many failed attempts; try again later");
        }
        var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedUsername == normalized, context.RequestAborted);
        if (user is null)
        {
            hashing.VerifyDecoy(password);
        }
        if (user is null || !hashing.Verify(user.PasswordHash, password))
        {
            throttle.RecordFailure(normalized, address);
            await audit.RecordAsync(db, AuditEventType.LoginFailed, new AuditActor(user?.Id, normalized.Length > 254 ? normalized[..254] : normalized, address),
                user?.Id, "token list: bad password", context.RequestAborted);
            return ApiProblem.Create(401, "invalid_grant", "User credentials are invalid");
        }
        if (user.MfaEnabled)
        {
            var otp = context.Request.Query["otp"].ToString();
            if (string.IsNullOrEmpty(otp))
            {
                return ApiProblem.Create(403, "mfa_required", "Multifactor authentication required: pass the one-time password as otp");
            }
            if (await mfa.VerifyAsync(db, user, otp, context.RequestAborted) == MfaCheck.Failed)
            {
                throttle.RecordFailure(normalized, address);
                return ApiProblem.Create(403, "invalid_otp", "Invalid one-time password");
            }
            await db.SaveChangesAsync(context.RequestAborted);
        }
        var tokens = await db.AccessTokens.AsNoTracking()
            .Where(t => t.UserId == user.Id && t.RevokedAt == null)
            .OrderByDescending(t => t.CreatedAt)
            .ToListAsync(context.RequestAborted);
        var list = tokens.Where(t => t.ExpiresAt is null || t.ExpiresAt > now)
            .Select(t => new AccessTokenSummary(t.Id, t.Hint, t.Client, t.CreatedAt, t.ExpiresAt, t.LastUsedAt)).ToList();
        return TypedResults.Json(list, ApiJson.Options);
    }

    private static async Task<IResult> CurrentAsync(HttpContext context, BulwarkDbContext db)
    {
        var token = await db.AccessTokens.AsNoTracking().FirstOrDefaultAsync(t => t.Id == context.User.TokenId(), context.RequestAborted);
        if (token is null)
        {
            return ApiProblem.Unauthorized();
        }
        return TypedResults.Json(new CurrentTokenResponse(token.Id, token.ExpiresAt, token.Client, [], []), ApiJson.Options);
    }

    private static async Task<IResult> RevokeCurrentAsync(HttpContext context, BulwarkDbContext db, AuditLog audit, AccessTokenCache cache, TimeProvider clock)
    {
        var token = await db.AccessTokens.FirstAsync(t => t.Id == context.User.TokenId(), context.RequestAborted);
        await RevokeAsync(context, db, audit, cache, clock, token, context.User.UserId(), context.User.Username());
        return TypedResults.Json(new OkResponse(true), ApiJson.Options);
    }

    private static async Task<IResult> RevokeAllAsync(HttpContext context, BulwarkDbContext db, AuditLog audit, AccessTokenCache cache, TimeProvider clock)
    {
        var userId = context.User.UserId();
        var count = await AccountEndpoints.RevokeOtherTokensAsync(db, userId, keepTokenId: null, clock.GetUtcNow().UtcDateTime, context.RequestAborted);
        await audit.RecordAsync(db, AuditEventType.TokensRevokedAll, AuditActor.From(context, userId, context.User.Username()), userId,
            $"{count} tokens", context.RequestAborted);
        cache.EvictUser(userId);
        return TypedResults.Json(new OkResponse(true), ApiJson.Options);
    }

    /// <summary>Knowing a token is enough to revoke it (particle-cli's <c>token revoke</c> sends no other
    /// credentials); a token id also works for the signed-in owner.</summary>
    private static async Task<IResult> RevokeOneAsync(string token, HttpContext context, BulwarkDbContext db, AuditLog audit,
        AccessTokenCache cache, TimeProvider clock)
    {
        AccessToken? row = null;
        if (AccessTokenFormat.LooksValid(token))
        {
            var hash = SecretHash.Of(token);
            row = await db.AccessTokens.FirstOrDefaultAsync(t => t.TokenHash == hash, context.RequestAborted);
        }
        else if (context.User.Identity?.IsAuthenticated == true)
        {
            var userId = context.User.UserId();
            row = await db.AccessTokens.FirstOrDefaultAsync(t => t.Id == token && t.UserId == userId, context.RequestAborted);
        }
        if (row is null || row.RevokedAt is not null)
        {
            return ApiProblem.NotFound("No such token");
        }
        var owner = await db.Users.AsNoTracking().Where(u => u.Id == row.UserId).Select(u => u.Username).FirstOrDefaultAsync(context.RequestAborted);
        await RevokeAsync(context, db, audit, cache, clock, row, row.UserId, owner);
        return TypedResults.Json(new OkResponse(true), ApiJson.Options);
    }

    private static async Task RevokeAsync(HttpContext context, BulwarkDbContext db, AuditLog audit, AccessTokenCache cache,
        TimeProvider clock, AccessToken token, string userId, string? username)
    {
        token.RevokedAt = clock.GetUtcNow().UtcDateTime;
        await audit.RecordAsync(db, AuditEventType.TokenRevoked, AuditActor.From(context, userId, username), userId,
            $"token {token.Id} ({token.Hint})", context.RequestAborted);
        cache.Evict(token.TokenHash);
    }
}
