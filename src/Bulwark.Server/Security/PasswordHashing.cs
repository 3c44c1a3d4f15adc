using Microsoft.AspNetCore.Identity;

namespace Bulwark.Server.Security;

/// <summary>Slow, salted password hashing (ASP.NET Core Identity's PBKDF2-HMAC-SHA512, 100,000 iterations).</summary>
public sealed class PasswordHashing
{
    private static readonly object Subject = new();
    private readonly PasswordHasher<object> _hasher = new();
    private readonly Lazy<string> _decoy;

    public PasswordHashing() => _decoy = new Lazy<string>(() => Hash(Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24))));

    public string Hash(string password) => _hasher.HashPassword(Subject, password);

    public bool Verify(string hash, string password) =>
        _hasher.VerifyHashedPassword(Subject, hash, password) != PasswordVerificationResult.Failed;

    /// <summary>Spends the same time as a real check, so an unknown username cannot be told apart by timing.</summary>
    public void VerifyDecoy(string password) => Verify(_decoy.Value, password);
}
