using System.Security.Cryptography;
using Bulwark.Server.Data;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Mfa;

public enum MfaCheck
{
    Failed,
    CodeAccepted,
    RecoveryCodeUsed,
}

/// <summary>Checks a second factor: a TOTP code (never the same time step twice) or, in its place, one of
/// the ten recovery codes, each of which works once. Stages its changes; the caller saves.</summary>
public sealed class MfaVerifier(SecretProtector protector, TimeProvider clock)
{
    public const int RecoveryCodeCount = 10;

    public async Task<MfaCheck> VerifyAsync(BulwarkDbContext db, User user, string otp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(otp);
        if (user.TotpSecretProtected is null)
        {
            return MfaCheck.Failed;
        }
        var compact = otp.Replace(" ", "", StringComparison.Ordinal);
        if (compact.Length == Totp.Digits)
        {
            var secret = protector.Unprotect(user.TotpSecretProtected);
            var step = Totp.MatchStep(secret, compact, clock.GetUtcNow());
            CryptographicOperations.ZeroMemory(secret);
            if (step is null || (user.TotpLastStep is { } last && step <= last))
            {
                return MfaCheck.Failed;
            }
            user.TotpLastStep = step;
            return MfaCheck.CodeAccepted;
        }
        var hash = SecretHash.Of(NormalizeRecoveryCode(compact));
        var code = await db.RecoveryCodes.FirstOrDefaultAsync(c => c.UserId == user.Id && c.CodeHash == hash && c.UsedAt == null, cancellationToken);
        if (code is null)
        {
            return MfaCheck.Failed;
        }
        code.UsedAt = clock.GetUtcNow().UtcDateTime;
        return MfaCheck.RecoveryCodeUsed;
    }

    /// <summary>Replaces the user's recovery codes with ten new ones, answering them in clear (shown once).</summary>
    public async Task<IReadOnlyList<string>> RegenerateRecoveryCodesAsync(BulwarkDbContext db, string userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        db.RecoveryCodes.RemoveRange(await db.RecoveryCodes.Where(c => c.UserId == userId).ToListAsync(cancellationToken));
        var codes = new List<string>(RecoveryCodeCount);
        for (var i = 0; i < RecoveryCodeCount; i++)
        {
            // 10 characters from a 32-letter alphabet: 50 bits, shown as xxxxx-xxxxx.
            var raw = RandomNumberGenerator.GetString("abcdefghjkmnpqrstuvwxyz23456789", 10);
            var display = raw[..5] + "-" + raw[5..];
            codes.Add(display);
            db.RecoveryCodes.Add(new RecoveryCode { Id = Ids.New(), UserId = userId, CodeHash = SecretHash.Of(NormalizeRecoveryCode(display)) });
        }
        return codes;
    }

    private static string NormalizeRecoveryCode(string code) => code.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
}
