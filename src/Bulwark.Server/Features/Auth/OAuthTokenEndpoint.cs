using System.Text.Json;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Accounts;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Mfa;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Auth;

/// <summary><c>POST /oauth/token</c>, form-encoded, exactly as particle-api-js and particle-cli send it: any
/// client id; the <c>password</c> grant, and the <c>urn:custom:mfa-otp</c> grant that finishes a login when
/// the account has two-step authentication on.</summary>
public static class OAuthTokenEndpoint
{
    public const string MfaGrant = "urn:custom:mfa-otp";
    private const string InvalidCredentials = "User credentials are invalid";

    public static IEndpointRouteBuilder MapOAuthTokenEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapPost("/oauth/token", IssueAsync).AllowAnonymous();
        return app;
    }

    private static async Task<IResult> IssueAsync(HttpContext context, BulwarkDbContext db, PasswordHashing hashing,
        LoginThrottle throttle, AccessTokenIssuer issuer, MfaTickets tickets, MfaVerifier mfa, AuditLog audit, TimeProvider clock)
    {
        var fields = await RequestFields.ReadAsync(context.Request, formOnly: true);
        var grant = fields.String("grant_type");
        var client = ClientId(context, fields);
        return grant switch
        {
            "password" => await PasswordGrantAsync(context, fields, client, db, hashing, throttle, issuer, tickets, audit, clock),
            MfaGrant => await MfaGrantAsync(context, fields, db, throttle, issuer, tickets, mfa, audit, clock),
            null or "" => ApiProblem.BadRequest("grant_type is required", "invalid_request"),
            _ => ApiProblem.BadRequest($"The grant type '{grant}' is not supported", "unsupported_grant_type"),
        };
    }

    private static string ClientId(HttpContext context, RequestFields fields)
    {
        if (fields.String("client_id") is { Length: > 0 } id)
        {
            return id;
        }
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var decoded = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
                return decoded.Split(':', 2)[0];
            }
            catch (FormatException)
            {
                throw ApiRequestException.BadRequest("The Basic authorization header is not valid base64");
            }
        }
        return "unknown";
    }

    private static async Task<IResult> PasswordGrantAsync(HttpContext context, RequestFields fields, string client,
        BulwarkDbContext db, PasswordHashing hashing, LoginThrottle throttle, AccessTokenIssuer issuer, MfaTickets tickets,
        AuditLog audit, TimeProvider clock)
    {
        var username = fields.String("username")?.Trim() ?? "";
        var password = fields.String("password") ?? "";
        if (username.Length == 0 || password.Length == 0)
        {
            return ApiProblem.BadRequest("username and password are required", "invalid_request");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        var lifetime = TokenLifetime.FromRequest(fields, now, issuer.DefaultLifetimeSeconds);
        var normalized = AccountEndpoints.Normalize(username);
        var address = context.Connection.RemoteIpAddress?.ToString();
        if (throttle.LockedUntil(normalized, address) is { } until)
        {
            return Locked(context, until, now);
        }
        var user = await db.Users.FirstOrDefaultAsync(u => u.NormalizedUsername == normalized, context.RequestAborted);
        if (user is { IsProgrammatic: true })
        {
            return Teams.TeamAuthorizationMiddleware.ApiUserRefused();
        }
        var valid = false;
        if (user is null)
        {
            hashing.VerifyDecoy(password);
        }
        else
        {
            valid = hashing.Verify(user.PasswordHash, password);
        }
        if (!valid)
        {
            var lockedNow = throttle.RecordFailure(normalized, address);
            await audit.RecordAsync(db, AuditEventType.LoginFailed, new AuditActor(user?.Id, username.Length > 254 ? username[..254] : username, address),
                user?.Id, "bad password", context.RequestAborted);
            if (lockedNow)
            {
                await audit.RecordAsync(db, AuditEventType.LoginLockedOut, new AuditActor(user?.Id, normalized.Length > 254 ? normalized[..254] : normalized, address),
                    user?.Id, cancellationToken: context.RequestAborted);
            }
            return ApiProblem.BadRequest(InvalidCredentials, "invalid_grant");
        }
        throttle.RecordSuccess(normalized);
        var actor = new AuditActor(user!.Id, user.Username, address);
        if (user.MfaEnabled)
        {
            var ticket = tickets.CreateLoginTicket(db, user.Id, new LoginTicketPayload(client, lifetime.ExpiresAt));
            await audit.RecordAsync(db, AuditEventType.LoginMfaChallenged, actor, user.Id, cancellationToken: context.RequestAborted);
            return TypedResults.Json(new MfaRequiredError("mfa_required", "Multifactor authentication required", ticket), ApiJson.Options, statusCode: 403);
        }
        var token = issuer.Issue(db, user.Id, client, lifetime);
        await audit.RecordAsync(db, AuditEventType.LoginSucceeded, actor, user.Id, $"client {client}", context.RequestAborted);
        return TypedResults.Json(token, ApiJson.Options);
    }

    private static async Task<IResult> MfaGrantAsync(HttpContext context, RequestFields fields, BulwarkDbContext db,
        LoginThrottle throttle, AccessTokenIssuer issuer, MfaTickets tickets, MfaVerifier mfa, AuditLog audit, TimeProvider clock)
    {
        var ticketText = fields.String("mfa_token") ?? "";
        var otp = (fields.String("otp") ?? "").Trim();
        if (ticketText.Length == 0 || otp.Length == 0)
        {
            return ApiProblem.BadRequest("mfa_token and otp are required", "invalid_request");
        }
        var ticket = await tickets.FindActiveAsync(db, ticketText, MfaTickets.LoginPurpose, context.RequestAborted);
        if (ticket is null)
        {
            return ApiProblem.BadRequest("The mfa_token is invalid or has expired; log in again", "invalid_grant");
        }
        var user = await db.Users.FirstAsync(u => u.Id == ticket.UserId, context.RequestAborted);
        var address = context.Connection.RemoteIpAddress?.ToString();
        var now = clock.GetUtcNow().UtcDateTime;
        if (throttle.LockedUntil(user.NormalizedUsername, address) is { } until)
        {
            return Locked(context, until, now);
        }
        var actor = new AuditActor(user.Id, user.Username, address);
        var outcome = await mfa.VerifyAsync(db, user, otp, context.RequestAborted);
        if (outcome == MfaCheck.Failed)
        {
            ticket.FailedAttempts++;
            if (ticket.FailedAttempts >= MfaTickets.MaxAttempts)
            {
                ticket.ConsumedAt = now;
            }
            throttle.RecordFailure(user.NormalizedUsername, address);
            await audit.RecordAsync(db, AuditEventType.LoginMfaFailed, actor, user.Id, cancellationToken: context.RequestAborted);
            return ApiProblem.BadRequest("Invalid one-time password", "invalid_grant");
        }
        ticket.ConsumedAt = now;
        var payload = JsonSerializer.Deserialize<LoginTicketPayload>(ticket.Payload ?? "{}", ApiJson.Options) ?? new LoginTicketPayload("unknown", null);
        var token = issuer.Issue(db, user.Id, payload.Client, new TokenLifetime(payload.ExpiresAt));
        throttle.RecordSuccess(user.NormalizedUsername);
        if (outcome == MfaCheck.RecoveryCodeUsed)
        {
            await audit.RecordAsync(db, AuditEventType.RecoveryCodeUsed, actor, user.Id, cancellationToken: context.RequestAborted);
        }
        await audit.RecordAsync(db, AuditEventType.LoginSucceeded, actor, user.Id, $"client {payload.Client}, two-step", context.RequestAborted);
        return TypedResults.Json(token, ApiJson.Options);
    }

    private static IResult Locked(HttpContext context, DateTime until, DateTime now)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling((until - now).TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return ApiProblem.TooManyRequests($"Too many failed login attempts; try again in {Math.Ceiling(seconds / 60.0)} minutes");
    }
}

/// <summary>What a login challenge remembers until the second step.</summary>
public sealed record LoginTicketPayload(string Client, DateTime? ExpiresAt);
