using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Mfa;

/// <summary>Short-lived single-use tickets: the <c>mfa_token</c> of a login waiting for its second step,
/// and the <c>mfa_token</c> of an enrolment waiting for its first code. Stored as hashes.</summary>
public sealed class MfaTickets(TimeProvider clock)
{
    public const string LoginPurpose = "login";
    public const string EnrollPurpose = "enroll";
    public const int MaxAttempts = 5;
    private static readonly TimeSpan LoginLifetime = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan EnrollLifetime = TimeSpan.FromMinutes(15);

    public string CreateLoginTicket(BulwarkDbContext db, string userId, LoginTicketPayload payload) =>
        Create(db, userId, LoginPurpose, System.Text.Json.JsonSerializer.Serialize(payload, ApiJson.Options), LoginLifetime);

    public string CreateEnrollTicket(BulwarkDbContext db, string userId, string protectedSecret) =>
        Create(db, userId, EnrollPurpose, protectedSecret, EnrollLifetime);

    private string Create(BulwarkDbContext db, string userId, string purpose, string payload, TimeSpan lifetime)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var secret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
        db.MfaTickets.Add(new MfaTicket
        {
            Id = Ids.New(),
            UserId = userId,
            TicketHash = SecretHash.Of(secret),
            Purpose = purpose,
            Payload = payload,
            CreatedAt = now,
            ExpiresAt = now + lifetime,
        });
        return secret;
    }

    public async Task<MfaTicket?> FindActiveAsync(BulwarkDbContext db, string ticket, string purpose, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var hash = SecretHash.Of(ticket);
        var now = clock.GetUtcNow().UtcDateTime;
        var row = await db.MfaTickets.FirstOrDefaultAsync(t => t.TicketHash == hash && t.Purpose == purpose, cancellationToken);
        return row is null || row.ConsumedAt is not null || row.ExpiresAt <= now || row.FailedAttempts >= MaxAttempts ? null : row;
    }
}
