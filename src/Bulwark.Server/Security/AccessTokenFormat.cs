using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Server.Security;

/// <summary>The shape of Bulwark access tokens: <c>bwk_</c>, 32 random base62 characters, then a 6-character
/// base62 CRC-32 of them. The prefix lets secret scanners recognise a leaked token; the checksum lets them
/// (and the server, before touching the database) reject look-alikes offline, as GitHub's tokens do.</summary>
public static class AccessTokenFormat
{
    public const string Prefix = "bwk_";
    private const int RandomLength = 32;
    private const int ChecksumLength = 6;
    public const int Length = 4 + RandomLength + ChecksumLength;
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string Generate(string prefix = Prefix)
    {
        var body = RandomNumberGenerator.GetString(Alphabet, RandomLength);
        return prefix + body + Checksum(body);
    }

    /// <summary>True when the text has the token shape and its checksum matches.</summary>
    public static bool LooksValid(ReadOnlySpan<char> token)
    {
        if (token.Length != Length || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var body = token.Slice(Prefix.Length, RandomLength);
        foreach (var c in body)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }
        Span<char> expected = stackalloc char[ChecksumLength];
        WriteChecksum(body, expected);
        return token[^ChecksumLength..].SequenceEqual(expected);
    }

    /// <summary>The part of a token that is safe to display.</summary>
    public static string Hint(string token) => token.Length > 10 ? token[..10] + "…" : "…";

    private static string Checksum(ReadOnlySpan<char> body)
    {
        Span<char> chars = stackalloc char[ChecksumLength];
        WriteChecksum(body, chars);
        return new string(chars);
    }

    private static void WriteChecksum(ReadOnlySpan<char> body, Span<char> destination)
    {
        Span<byte> bytes = stackalloc byte[RandomLength];
        Encoding.ASCII.GetBytes(body, bytes);
        var crc = Crc32(bytes);
        for (var i = ChecksumLength - 1; i >= 0; i--)
        {
            destination[i] = Alphabet[(int)(crc % 62)];
            crc /= 62;
        }
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFF_FFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320u : crc >> 1;
            }
        }
        return ~crc;
    }
}
