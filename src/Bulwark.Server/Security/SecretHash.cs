using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Server.Security;

/// <summary>One-way hashes for high-entropy secrets (tokens, recovery codes, tickets). These secrets are
/// random, so a fast unsalted SHA-256 is enough; human passwords use <see cref="PasswordHashing"/>.</summary>
public static class SecretHash
{
    public static string Of(string secret) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
