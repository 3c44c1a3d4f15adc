using System.Security.Cryptography;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Accounts;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;
using QRCoder;

namespace Bulwark.Server.Features.Mfa;

/// <summary>Two-step authentication enrolment: <c>GET/POST /v1/user/mfa-enable</c>, <c>PUT /v1/user/mfa-disable</c>.</summary>
public static class MfaEndpoints
{
    public const string Issuer = "Bulwark";

    public static IServiceCollection AddMfa(this IServiceCollection services)
    {
        services.AddSingleton<MfaTickets>();
        services.AddSingleton<MfaVerifier>();
        return services;
    }

    public static IEndpointRouteBuilder MapMfaEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/user").RequireAuthorization();
        group.MapGet("/mfa-enable", StartAsync);
        group.MapPost("/mfa-enable", ConfirmAsync);
        group.MapPut("/mfa-disable", DisableAsync);
        return app;
    }

    private static async Task<IResult> StartAsync(HttpContext context, BulwarkDbContext db, MfaTickets tickets,
        SecretProtector protector, AuditLog audit)
    {
        var user = await db.Users.FirstAsync(u => u.Id == context.User.UserId(), context.RequestAborted);
        if (user.MfaEnabled)
        {
            return ApiProblem.BadRequest("Two-step authentication is already enabled; disable it first to enrol a new authenticator", "mfa_already_enabled");
        }
        var secret = RandomNumberGenerator.GetBytes(20);
        var base32 = Base32.Encode(secret);
        var ticket = tickets.CreateEnrollTicket(db, user.Id, protector.Protect(secret));
        CryptographicOperations.ZeroMemory(secret);
        var uri = Totp.OtpauthUri(Issuer, user.Username, base32);
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(uri, QRCodeGenerator.ECCLevel.M);
        var png = new PngByteQRCode(data).GetGraphic(6);
        await audit.RecordAsync(db, AuditEventType.MfaEnrollmentStarted, AuditActor.From(context, user.Id, user.Username), user.Id,
            cancellationToken: context.RequestAborted);
        return TypedResults.Json(new MfaEnrollmentResponse(ticket, base32, uri, "data:image/png;base64," + Convert.ToBase64String(png)), ApiJson.Options);
    }

    private static async Task<IResult> ConfirmAsync(HttpContext context, BulwarkDbContext db, MfaTickets tickets, MfaVerifier verifier,
        SecretProtector protector, AuditLog audit, AccessTokenCache cache, TimeProvider clock)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var ticketText = fields.Required("mfa_token");
        var otp = fields.Required("otp").Trim();
        var user = await db.Users.FirstAsync(u => u.Id == context.User.UserId(), context.RequestAborted);
        var ticket = await tickets.FindActiveAsync(db, ticketText, MfaTickets.EnrollPurpose, context.RequestAborted);
        if (ticket is null || ticket.UserId != user.Id)
        {
            return ApiProblem.BadRequest("The mfa_token is invalid or has expired; start enrolment again", "invalid_mfa_token");
        }
        var secret = protector.Unprotect(ticket.Payload!);
        var step = Totp.MatchStep(secret, otp, clock.GetUtcNow());
        CryptographicOperations.ZeroMemory(secret);
        if (step is null)
        {
            ticket.FailedAttempts++;
            await db.SaveChangesAsync(context.RequestAborted);
            return ApiProblem.BadRequest("The one-time password does not match; check the authenticator's clock and try again", "invalid_otp");
        }
        ticket.ConsumedAt = clock.GetUtcNow().UtcDateTime;
        user.MfaEnabled = true;
        user.TotpSecretProtected = ticket.Payload;
        user.TotpLastStep = step;
        var codes = await verifier.RegenerateRecoveryCodesAsync(db, user.Id, context.RequestAborted);
        var invalidate = fields.Bool("invalidate_tokens") ?? false;
        if (invalidate)
        {
            await AccountEndpoints.RevokeOtherTokensAsync(db, user.Id, context.User.TokenId(), clock.GetUtcNow().UtcDateTime, context.RequestAborted);
        }
        await audit.RecordAsync(db, AuditEventType.MfaEnabled, AuditActor.From(context, user.Id, user.Username), user.Id,
            invalidate ? "other tokens revoked" : null, context.RequestAborted);
        cache.EvictUser(user.Id);
        return TypedResults.Json(new MfaConfirmResponse(true, codes), ApiJson.Options);
    }

    private static async Task<IResult> DisableAsync(HttpContext context, BulwarkDbContext db, PasswordHashing hashing, AuditLog audit,
        AccessTokenCache cache)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var user = await db.Users.FirstAsync(u => u.Id == context.User.UserId(), context.RequestAborted);
        var password = fields.String("current_password") ?? fields.String("password");
        if (string.IsNullOrEmpty(password) || !hashing.Verify(user.PasswordHash, password))
        {
            return ApiProblem.BadRequest("The current password is incorrect", "invalid_password");
        }
        if (!user.MfaEnabled)
        {
            return ApiProblem.BadRequest("Two-step authentication is not enabled", "mfa_not_enabled");
        }
        user.MfaEnabled = false;
        user.TotpSecretProtected = null;
        user.TotpLastStep = null;
        db.RecoveryCodes.RemoveRange(await db.RecoveryCodes.Where(c => c.UserId == user.Id).ToListAsync(context.RequestAborted));
        await audit.RecordAsync(db, AuditEventType.MfaDisabled, AuditActor.From(context, user.Id, user.Username), user.Id,
            cancellationToken: context.RequestAborted);
        cache.EvictUser(user.Id);
        return TypedResults.Json(new OkResponse(true), ApiJson.Options);
    }
}
