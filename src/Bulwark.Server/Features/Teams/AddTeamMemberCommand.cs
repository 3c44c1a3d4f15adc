using System.Security.Cryptography;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Accounts;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Features.Products;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Teams;

/// <summary><c>POST .../team</c>: with <c>{username, role?}</c> adds an existing account with a role (Developer by
/// default); with <c>{friendly_name, scopes}</c> creates an API user and returns its only token, once.</summary>
public static class AddTeamMemberCommand
{
    /// <summary>API users are named <c>&lt;name&gt;+&lt;random&gt;@api.particle.io</c>, as on Particle.</summary>
    public const string ApiUserDomain = "api.particle.io";
    public const string ApiUserTokenClient = "api-user";

    public static async Task<IResult> HandleAsync(HttpContext context, BulwarkDbContext db, AuditLog audit, AccessTokenIssuer issuer,
        PasswordHashing hashing, TimeProvider clock)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        if (fields.Has("friendly_name") || fields.Has("scopes"))
        {
            return await CreateApiUserAsync(context, fields, db, audit, issuer, hashing, clock);
        }
        if (fields.Has("username"))
        {
            return await InviteAsync(context, fields, db, audit, clock);
        }
        return ApiProblem.BadRequest("Send {username, role} to add a person or {friendly_name, scopes} to create an API user");
    }

    private static async Task<IResult> InviteAsync(HttpContext context, RequestFields fields, BulwarkDbContext db, AuditLog audit, TimeProvider clock)
    {
        var grant = context.Grant();
        var username = fields.Required("username").Trim();
        var roleText = fields.String("role");
        var role = TeamRole.Developer;
        if (!string.IsNullOrWhiteSpace(roleText) && !TeamRoles.TryParse(roleText, out role))
        {
            return ApiProblem.BadRequest($"Unknown role '{roleText}'; roles are {TeamRoles.Choices}", "invalid_role");
        }
        if (role == TeamRole.Owner && grant.Product is { OrganizationId: not null })
        {
            return ApiProblem.BadRequest("The Owners of an organization's product are the organization's Owners; invite them to the organization", "invalid_role");
        }
        if (!RolePermissions.MayGrantRole(grant.Role, grant.Scopes, role))
        {
            return ApiProblem.Forbidden($"You cannot give the {role.Name()} role: it holds more than you do");
        }
        var normalized = AccountEndpoints.Normalize(username);
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.NormalizedUsername == normalized, context.RequestAborted);
        if (user is null)
        {
            return ApiProblem.NotFound($"No account has the username '{username}'; they must sign up first");
        }
        if (user.IsProgrammatic)
        {
            return ApiProblem.BadRequest("An API user belongs to the team it was created for and cannot be invited elsewhere");
        }
        if (await TeamEndpoints.MembersOf(db, grant).AnyAsync(m => m.UserId == user.Id, context.RequestAborted))
        {
            return ApiProblem.Conflict($"{user.Username} is already a member; change their role with PUT .../team/{user.Username}", "already_member");
        }
        db.TeamMembers.Add(new TeamMember
        {
            Id = Ids.New(),
            ProductId = grant.Product?.Id,
            OrganizationId = grant.Product is null ? grant.Organization!.Id : null,
            UserId = user.Id,
            Role = role.Id(),
            CreatedAt = clock.GetUtcNow().UtcDateTime,
            CreatedById = grant.Caller.UserId,
        });
        try
        {
            await audit.RecordAsync(db, context, AuditEventType.TeamMemberInvited, grant.AuditSubject, grant.Caller.UserId, grant.Caller.Username,
                new Dictionary<string, object?> { ["target"] = user.Username, ["target_id"] = user.Id, ["role"] = role.Name() });
        }
        catch (DbUpdateException)
        {
            return ApiProblem.Conflict($"{user.Username} is already a member", "already_member");
        }
        return TypedResults.Json(new TeamInviteResponse(true, new InvitedMember(user.Username, TeamEndpoints.RoleResponse(role))), ApiJson.Options);
    }

    private static async Task<IResult> CreateApiUserAsync(HttpContext context, RequestFields fields, BulwarkDbContext db, AuditLog audit,
        AccessTokenIssuer issuer, PasswordHashing hashing, TimeProvider clock)
    {
        var grant = context.Grant();
        var friendlyName = fields.String("friendly_name")?.Trim();
        if (string.IsNullOrEmpty(friendlyName) || friendlyName.Length > 100)
        {
            return ApiProblem.BadRequest("friendly_name is required (1 to 100 characters)");
        }
        var (scopes, problem) = TeamEndpoints.CheckScopes(grant, fields.StringList("scopes"));
        if (scopes is null)
        {
            return problem!;
        }
        var now = clock.GetUtcNow().UtcDateTime;
        var localPart = Slugs.FromName(friendlyName) ?? "api-user";
        var username = $"{localPart}+{RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 10)}@{ApiUserDomain}";
        var user = new User
        {
            Id = Ids.New(),
            Username = username,
            NormalizedUsername = AccountEndpoints.Normalize(username),
            // Nobody knows this password; the password grant refuses API users before it would be checked anyway.
            PasswordHash = hashing.Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))),
            IsProgrammatic = true,
            CreatedAt = now,
        };
        db.Users.Add(user);
        db.TeamMembers.Add(new TeamMember
        {
            Id = Ids.New(),
            ProductId = grant.Product?.Id,
            OrganizationId = grant.Product is null ? grant.Organization!.Id : null,
            UserId = user.Id,
            FriendlyName = friendlyName,
            Scopes = string.Join(' ', scopes),
            CreatedAt = now,
            CreatedById = grant.Caller.UserId,
        });
        var token = issuer.Issue(db, user.Id, ApiUserTokenClient, new TokenLifetime(null));
        await audit.RecordAsync(db, context, AuditEventType.ApiUserCreated, grant.AuditSubject, grant.Caller.UserId, grant.Caller.Username,
            new Dictionary<string, object?> { ["target"] = user.Username, ["target_id"] = user.Id, ["friendly_name"] = friendlyName, ["scopes"] = scopes });
        return TypedResults.Json(new ApiUserCreatedResponse(true, new ApiUserCreated(user.Username, friendlyName, scopes, true,
            grant.Product?.Id, grant.Product is null ? grant.Organization!.Id : null, [new ApiUserToken(token.AccessToken)])), ApiJson.Options);
    }
}
