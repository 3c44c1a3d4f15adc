using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Bulwark.EndToEnd.Tests.Infrastructure;

/// <summary>An independent RFC 6238 authenticator (HMAC-SHA1, 30 s, 6 digits), as a phone app would compute it.
/// The server refuses a time step it has already accepted, so each code is taken from a later step than the
/// last one handed out; the server accepts one step of drift, so at most one step ahead of now.</summary>
public sealed class TotpCodes(string base32Secret)
{
    private readonly byte[] _secret = Base32Decode(base32Secret);
    private long _lastStep = long.MinValue;

    /// <summary>A code the server has not seen yet (waits for the clock only if two codes were already used in this step).</summary>
    public string Next()
    {
        var now = CurrentStep();
        var step = Math.Max(now, _lastStep + 1);
        while (step > CurrentStep() + 1)
        {
            Thread.Sleep(TimeSpan.FromSeconds(1)); // the clock is the only signal a TOTP window has
        }
        _lastStep = step;
        return Code(_secret, step);
    }

    /// <summary>The code most recently handed out (for replay tests).</summary>
    public string Last() => Code(_secret, _lastStep);

    public static long CurrentStep() => DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 30;

    public static string Code(byte[] secret, long step)
    {
        Span<byte> counter = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(counter, step);
        var mac = HMACSHA1.HashData(secret, counter);
        var offset = mac[^1] & 0x0F;
        var binary = ((mac[offset] & 0x7F) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
        return (binary % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
    }

    public static byte[] Base32Decode(string text)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var output = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (var c in text.Trim().TrimEnd('=').ToUpperInvariant())
        {
            buffer = (buffer << 5) | alphabet.IndexOf(c, StringComparison.Ordinal);
            bits += 5;
            if (bits >= 8)
            {
                output.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }
        return [.. output];
    }
}
