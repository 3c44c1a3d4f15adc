using System.Collections.Concurrent;

namespace Bulwark.Server.Features.Auth;

/// <summary>What the server needs to know about a valid token on every request. <paramref name="IsApiUser"/> never
/// changes for an account; <paramref name="MfaEnabled"/> can, so enabling or disabling MFA evicts the user's entries.</summary>
public sealed record ValidatedToken(string TokenId, string UserId, string Username, DateTime? ExpiresAt, DateTime CachedAt,
    bool IsApiUser = false, bool MfaEnabled = false);

/// <summary>Keeps recently validated tokens in memory, keyed by the token's hash, so that validating a
/// token on every API request costs a SHA-256 and a dictionary probe rather than a database round trip.
/// Revocation on this node evicts at once; entries also expire after <see cref="MaxAge"/> so that a
/// revocation made on another node takes effect within that time.</summary>
public sealed class AccessTokenCache
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);
    private const int MaxEntries = 200_000;
    private readonly ConcurrentDictionary<string, ValidatedToken> _byHash = new(StringComparer.Ordinal);

    public bool TryGet(string tokenHash, DateTime now, out ValidatedToken token)
    {
        if (_byHash.TryGetValue(tokenHash, out token!) && now - token.CachedAt < MaxAge && (token.ExpiresAt is null || token.ExpiresAt > now))
        {
            return true;
        }
        return false;
    }

    public void Add(string tokenHash, ValidatedToken token)
    {
        if (_byHash.Count >= MaxEntries)
        {
            _byHash.Clear();
        }
        _byHash[tokenHash] = token;
    }

    public void Evict(string tokenHash) => _byHash.TryRemove(tokenHash, out _);

    /// <summary>Evicts every cached token of a user (password change, account deletion, revoke-all).</summary>
    public void EvictUser(string userId)
    {
        foreach (var (hash, token) in _byHash)
        {
            if (token.UserId == userId)
            {
                _byHash.TryRemove(hash, out _);
            }
        }
    }
}
