using System.Security.Cryptography;

namespace Bulwark.Server.Security;

/// <summary>Random identifiers in Particle's 24-hex-character style.</summary>
public static class Ids
{
    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
}
