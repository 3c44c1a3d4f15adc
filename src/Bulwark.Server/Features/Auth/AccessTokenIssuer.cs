using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Security;

namespace Bulwark.Server.Features.Auth;

/// <summary>How long a new token should live, as the client asked for it.</summary>
public readonly record struct TokenLifetime(DateTime? ExpiresAt, long? RequestedSeconds = null)
{
    /// <summary>Reads <c>expires_in</c> (seconds, 0 = never) or <c>expires_at</c> (ISO-8601), defaulting to the server's default.</summary>
    public static TokenLifetime FromRequest(RequestFields fields, DateTime now, long defaultSeconds)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var expiresAt = fields.String("expires_at");
        if (!string.IsNullOrEmpty(expiresAt))
        {
            if (!DateTimeOffset.TryParse(expiresAt, System.Globalization.CultureInfo.InvariantCulture,
                    System.Globalization.DateTimeStyles.AssumeUniversal, out var at))
            {
                throw ApiRequestException.BadRequest("expires_at must be an ISO-8601 date and time");
            }
            if (at.UtcDateTime <= now)
            {
                throw ApiRequestException.BadRequest("expires_at must be in the future");
            }
            return new(at.UtcDateTime);
        }
        var expiresIn = fields.Has("expires_in") ? fields.Long("expires_in") : null;
        return expiresIn switch
        {
            null => new(now.AddSeconds(defaultSeconds), defaultSeconds),
            0 => new(null),
            < 0 => throw ApiRequestException.BadRequest("expires_in must be 0 (never) or a positive number of seconds"),
            > 100L * 365 * 24 * 3600 => throw ApiRequestException.BadRequest("expires_in is too large; use 0 for a token that never expires"),
            var seconds => new(now.AddSeconds(seconds.Value), seconds.Value),
        };
    }
}

/// <summary>Creates access tokens. The secret is returned once and only its hash is stored.</summary>
public sealed class AccessTokenIssuer(TimeProvider clock, BulwarkOptions options)
{
    public long DefaultLifetimeSeconds => options.DefaultTokenLifetimeSeconds;

    /// <summary>Stages a new token for the user (the caller saves), answering the OAuth response.</summary>
    public TokenResponse Issue(BulwarkDbContext db, string userId, string client, TokenLifetime lifetime)
    {
        ArgumentNullException.ThrowIfNull(db);
        var now = clock.GetUtcNow().UtcDateTime;
        var secret = AccessTokenFormat.Generate();
        db.AccessTokens.Add(new AccessToken
        {
            Id = Ids.New(),
            UserId = userId,
            TokenHash = SecretHash.Of(secret),
            Hint = AccessTokenFormat.Hint(secret),
            Client = client.Length > 100 ? client[..100] : client,
            CreatedAt = now,
            ExpiresAt = lifetime.ExpiresAt,
        });
        // Answer the lifetime the client asked for, not the few seconds less that password hashing has cost since.
        long? expiresIn = lifetime.RequestedSeconds ?? (lifetime.ExpiresAt is { } at ? (long)Math.Round((at - now).TotalSeconds) : 0);
        return new TokenResponse("bearer", secret, expiresIn, lifetime.ExpiresAt);
    }
}
