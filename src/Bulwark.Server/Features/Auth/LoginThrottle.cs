using System.Collections.Concurrent;
using Bulwark.Server.Hosting;

namespace Bulwark.Server.Features.Auth;

/// <summary>Brute-force defence for password and one-time-code checks. Failures are counted per username
/// (whether or not that account exists, so a lockout reveals nothing) and per client address; past the
/// limit the key is locked for <see cref="LoginThrottleOptions.LockoutMinutes"/>. Held in memory: one
/// node's view. Behind several nodes, each enforces its own share of the limit.</summary>
public sealed class LoginThrottle(LoginThrottleOptions options, TimeProvider clock)
{
    private sealed class Counter
    {
        public int Failures;
        public DateTime FirstFailureAt;
        public DateTime? LockedUntil;
    }

    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);

    /// <summary>When either key is locked, the time until which it is; otherwise null.</summary>
    public DateTime? LockedUntil(string normalizedUsername, string? address)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        DateTime? until = null;
        foreach (var key in Keys(normalizedUsername, address))
        {
            if (_counters.TryGetValue(key, out var c))
            {
                lock (c)
                {
                    if (c.LockedUntil is { } l && l > now && (until is null || l > until))
                    {
                        until = l;
                    }
                }
            }
        }
        return until;
    }

    /// <summary>Counts a failure; answers true when it has just caused a lockout.</summary>
    public bool RecordFailure(string normalizedUsername, string? address)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var lockedNow = false;
        foreach (var key in Keys(normalizedUsername, address))
        {
            var limit = key.StartsWith("u:", StringComparison.Ordinal) ? options.AccountFailureLimit : options.AddressFailureLimit;
            var c = _counters.GetOrAdd(key, _ => new Counter());
            lock (c)
            {
                if (c.Failures == 0 || now - c.FirstFailureAt > TimeSpan.FromMinutes(options.WindowMinutes) || (c.LockedUntil is { } l && l <= now))
                {
                    c.Failures = 0;
                    c.FirstFailureAt = now;
                    c.LockedUntil = null;
                }
                c.Failures++;
                if (c.Failures >= limit && c.LockedUntil is null)
                {
                    c.LockedUntil = now.AddMinutes(options.LockoutMinutes);
                    lockedNow = true;
                }
            }
        }
        return lockedNow;
    }

    /// <summary>A successful login clears the account's count (the address keeps its history).</summary>
    public void RecordSuccess(string normalizedUsername) => _counters.TryRemove("u:" + normalizedUsername, out _);

    private static IEnumerable<string> Keys(string normalizedUsername, string? address)
    {
        yield return "u:" + normalizedUsername;
        if (!string.IsNullOrEmpty(address))
        {
            yield return "a:" + address;
        }
    }
}
