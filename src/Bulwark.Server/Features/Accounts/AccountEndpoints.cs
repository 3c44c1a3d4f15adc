using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Accounts;

/// <summary>Sign-up and the signed-in user's own account: <c>POST /v1/users</c>, <c>GET/PUT/DELETE /v1/user</c>.</summary>
public static class AccountEndpoints
{
    public static IServiceCollection AddAccounts(this IServiceCollection services)
    {
        services.AddSingleton(CommonPasswordList.LoadEmbedded());
        services.AddSingleton(sp => new PasswordPolicy(sp.GetRequiredService<BulwarkOptions>().Passwords, sp.GetRequiredService<CommonPasswordList>()));
        services.AddSingleton<PasswordHashing>();
        return services;
    }

    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/users", SignUpAsync);
        var user = app.MapGroup("/v1/user").RequireAuthorization();
        user.MapGet("", GetUserAsync);
        user.MapPut("", UpdateUserAsync);
        user.MapDelete("", DeleteUserAsync);
        // particle-api-js trackingIdentity(); answered from the token alone, with no database read.
        user.MapGet("/identify", (HttpContext context) =>
            TypedResults.Json(new IdentityResponse(context.User.UserId(), context.User.Username()), ApiJson.Options));
        return app;
    }

    internal static string Normalize(string username) => username.Trim().ToLowerInvariant();

    private static async Task<IResult> SignUpAsync(HttpContext context, BulwarkDbContext db, BulwarkOptions options,
        PasswordPolicy policy, PasswordHashing hashing, AuditLog audit, TimeProvider clock)
    {
        if (!options.SignupOpen)
        {
            return ApiProblem.Forbidden("Sign-up is closed on this server; ask an administrator for an account", "signup_closed");
        }
        var fields = await RequestFields.ReadAsync(context.Request);
        var username = fields.Required("username").Trim();
        if (username.Length > 254 || !username.Contains('@', StringComparison.Ordinal) || username.Any(char.IsWhiteSpace)
            || username.StartsWith('@') || username.EndsWith('@'))
        {
            return ApiProblem.BadRequest("The username must be an email address");
        }
        var password = fields.String("password");
        if (policy.Check(password, username) is { } rejection)
        {
            return ApiProblem.BadRequest(rejection.Reason, "invalid_password");
        }
        var normalized = Normalize(username);
        if (await db.Users.AnyAsync(u => u.NormalizedUsername == normalized, context.RequestAborted))
        {
            return ApiProblem.BadRequest("That username is not available", "username_taken");
        }
        var info = fields.Object("account_info");
        var user = new User
        {
            Id = Ids.New(),
            Username = username,
            NormalizedUsername = normalized,
            PasswordHash = hashing.Hash(password!),
            FirstName = info?.String("first_name"),
            LastName = info?.String("last_name"),
            CompanyName = info?.String("company_name"),
            BusinessAccount = info?.Bool("business_account") ?? false,
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        db.Users.Add(user);
        try
        {
            await audit.RecordAsync(db, AuditEventType.UserSignedUp, AuditActor.From(context, user.Id, user.Username), user.Id,
                cancellationToken: context.RequestAborted);
        }
        catch (DbUpdateException)
        {
            // Two sign-ups raced for the same name; the unique index decided.
            return ApiProblem.BadRequest("That username is not available", "username_taken");
        }
        return TypedResults.Json(new SignupResponse(true, user.Username), ApiJson.Options, statusCode: 201);
    }

    private static async Task<IResult> GetUserAsync(HttpContext context, BulwarkDbContext db)
    {
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == context.User.UserId(), context.RequestAborted);
        return user is null ? ApiProblem.Unauthorized() : TypedResults.Json(ToResponse(user), ApiJson.Options);
    }

    internal static UserResponse ToResponse(User user) => new(
        user.Username,
        [],
        new AccountInfo(user.FirstName, user.LastName, user.BusinessAccount, user.CompanyName),
        new MfaStatus(user.MfaEnabled),
        ScimProvisioned: false,
        NoPassword: false,
        WifiDeviceCount: 0,
        CellularDeviceCount: 0,
        user.CreatedAt);

    private static async Task<IResult> UpdateUserAsync(HttpContext context, BulwarkDbContext db, PasswordPolicy policy,
        PasswordHashing hashing, AuditLog audit, AccessTokenCache cache, TimeProvider clock)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == context.User.UserId(), context.RequestAborted);
        if (user is null)
        {
            return ApiProblem.Unauthorized();
        }
        var actor = AuditActor.From(context, user.Id, user.Username);
        var newPassword = fields.String("password");
        var newUsername = fields.String("username");
        if (newPassword is not null || newUsername is not null)
        {
            var current = fields.String("current_password");
            if (string.IsNullOrEmpty(current) || !hashing.Verify(user.PasswordHash, current))
            {
                return ApiProblem.BadRequest("The current password is incorrect", "invalid_password");
            }
        }
        var invalidateTokens = fields.Bool("invalidate_tokens") ?? false;
        if (newPassword is not null)
        {
            if (policy.Check(newPassword, newUsername ?? user.Username) is { } rejection)
            {
                return ApiProblem.BadRequest(rejection.Reason, "invalid_password");
            }
            user.PasswordHash = hashing.Hash(newPassword);
            if (invalidateTokens)
            {
                await RevokeOtherTokensAsync(db, user.Id, context.User.TokenId(), clock.GetUtcNow().UtcDateTime, context.RequestAborted);
            }
            await audit.RecordAsync(db, AuditEventType.UserPasswordChanged, actor, user.Id,
                invalidateTokens ? "other tokens revoked" : null, context.RequestAborted);
            cache.EvictUser(user.Id);
            return TypedResults.Json(new OkResponse(true, "Password updated"), ApiJson.Options);
        }
        if (newUsername is not null)
        {
            newUsername = newUsername.Trim();
            if (!newUsername.Contains('@', StringComparison.Ordinal) || newUsername.Any(char.IsWhiteSpace) || newUsername.Length > 254)
            {
                return ApiProblem.BadRequest("The username must be an email address");
            }
            var normalized = Normalize(newUsername);
            if (await db.Users.AnyAsync(u => u.NormalizedUsername == normalized && u.Id != user.Id, context.RequestAborted))
            {
                return ApiProblem.BadRequest("That username is not available", "username_taken");
            }
            var old = user.Username;
            user.Username = newUsername;
            user.NormalizedUsername = normalized;
            if (invalidateTokens)
            {
                await RevokeOtherTokensAsync(db, user.Id, context.User.TokenId(), clock.GetUtcNow().UtcDateTime, context.RequestAborted);
            }
            await audit.RecordAsync(db, AuditEventType.UserUsernameChanged, actor, user.Id, $"from {old}", context.RequestAborted);
            cache.EvictUser(user.Id);
            return TypedResults.Json(new OkResponse(true, "Username updated"), ApiJson.Options);
        }
        if (fields.Object("account_info") is { } info)
        {
            user.FirstName = info.String("first_name") ?? user.FirstName;
            user.LastName = info.String("last_name") ?? user.LastName;
            user.CompanyName = info.String("company_name") ?? user.CompanyName;
            user.BusinessAccount = info.Bool("business_account") ?? user.BusinessAccount;
            await audit.RecordAsync(db, AuditEventType.UserProfileUpdated, actor, user.Id, cancellationToken: context.RequestAborted);
            return TypedResults.Json(new OkResponse(true, "Account updated"), ApiJson.Options);
        }
        return ApiProblem.BadRequest("Nothing to update: send account_info, username or password");
    }

    internal static async Task<int> RevokeOtherTokensAsync(BulwarkDbContext db, string userId, string? keepTokenId, DateTime now, CancellationToken cancellationToken)
    {
        var tokens = await db.AccessTokens.Where(t => t.UserId == userId && t.RevokedAt == null && t.Id != keepTokenId).ToListAsync(cancellationToken);
        foreach (var t in tokens)
        {
            t.RevokedAt = now;
        }
        return tokens.Count;
    }

    private static async Task<IResult> DeleteUserAsync(HttpContext context, BulwarkDbContext db, PasswordHashing hashing,
        AuditLog audit, AccessTokenCache cache)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == context.User.UserId(), context.RequestAborted);
        if (user is null)
        {
            return ApiProblem.Unauthorized();
        }
        var password = fields.String("password");
        if (string.IsNullOrEmpty(password) || !hashing.Verify(user.PasswordHash, password))
        {
            return ApiProblem.BadRequest("The password is incorrect", "invalid_password");
        }
        if (await SoleOwnershipsAsync(db, user.Id, context.RequestAborted) is { Count: > 0 } owned)
        {
            return ApiProblem.BadRequest(
                "You are the only Owner of " + string.Join(", ", owned) + "; make someone else an Owner (or delete it) before deleting your account",
                "last_owner");
        }
        db.Users.Remove(user);
        await audit.RecordAsync(db, AuditEventType.UserDeleted, AuditActor.From(context, user.Id, user.Username), user.Id,
            cancellationToken: context.RequestAborted);
        cache.EvictUser(user.Id);
        return TypedResults.Json(new OkResponse(true, "User's account has been deleted."), ApiJson.Options);
    }

    /// <summary>The products and organizations of which the user is the only Owner: deleting the account would orphan them.</summary>
    private static async Task<List<string>> SoleOwnershipsAsync(BulwarkDbContext db, string userId, CancellationToken cancellationToken)
    {
        var owner = TeamRole.Owner.Id();
        var mine = await db.TeamMembers.AsNoTracking().Where(m => m.UserId == userId && m.Role == owner)
            .Select(m => new { m.ProductId, m.OrganizationId }).ToListAsync(cancellationToken);
        var result = new List<string>();
        foreach (var m in mine)
        {
            var others = await db.TeamMembers.AsNoTracking().CountAsync(
                o => o.Role == owner && o.UserId != userId && o.ProductId == m.ProductId && o.OrganizationId == m.OrganizationId, cancellationToken);
            if (others == 0)
            {
                result.Add(m.ProductId is { } p ? $"product {p}" : $"organization {m.OrganizationId}");
            }
        }
        return result;
    }
}
