using System.Text;
using System.Text.RegularExpressions;

namespace Bulwark.Server.Features.Products;

/// <summary>Slugs of products and organizations: lower-case letters, digits and single hyphens, 2 to 64 characters,
/// never all digits (a numeric path segment is a product id) and never shaped like a 24-hex-digit id.</summary>
public static partial class Slugs
{
    public const int MaxLength = 64;

    private static readonly Dictionary<char, string> Fold = BuildFold();

    private static Dictionary<char, string> BuildFold()
    {
        var fold = new Dictionary<char, string> { ['ß'] = "ss", ['æ'] = "ae", ['œ'] = "oe", ['ø'] = "o", ['đ'] = "d", ['ł'] = "l", ['þ'] = "th" };
        foreach (var (letters, plain) in new[]
        {
            ("àáâãäåāăą", "a"), ("çćĉċč", "c"), ("ďđ", "d"), ("èéêëēĕėęě", "e"), ("ĝğġģ", "g"), ("ĥħ", "h"), ("ìíîïĩīĭįı", "i"),
            ("ĵ", "j"), ("ķ", "k"), ("ĺļľŀ", "l"), ("ñńņňŉ", "n"), ("òóôõöōŏő", "o"), ("ŕŗř", "r"), ("śŝşš", "s"), ("ţťŧ", "t"),
            ("ùúûüũūŭůűų", "u"), ("ŵ", "w"), ("ýÿŷ", "y"), ("źżž", "z"),
        })
        {
            foreach (var letter in letters)
            {
                fold[letter] = plain;
            }
        }
        return fold;
    }

    /// <summary>A slug made from a display name, or null when nothing usable is left.</summary>
    public static string? FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var builder = new StringBuilder(name.Length);
        foreach (var c in name.ToLowerInvariant())
        {
            // The server runs with invariant globalization (no Unicode decomposition), so fold the common Latin letters by table.
            var folded = Fold.GetValueOrDefault(c, c.ToString());
            if (folded.All(f => f is >= 'a' and <= 'z' or >= '0' and <= '9'))
            {
                builder.Append(folded);
            }
            else if (builder.Length > 0 && builder[^1] != '-')
            {
                builder.Append('-');
            }
        }
        var slug = builder.ToString().Trim('-');
        if (slug.Length > MaxLength - 8)
        {
            slug = slug[..(MaxLength - 8)].TrimEnd('-');
        }
        return IsValid(slug) ? slug : null;
    }

    /// <summary>Why a slug is unacceptable, or null when it is fine.</summary>
    public static string? Problem(string slug)
    {
        ArgumentNullException.ThrowIfNull(slug);
        if (slug.Length is < 2 or > MaxLength || !Shape().IsMatch(slug))
        {
            return $"A slug is 2 to {MaxLength} lower-case letters, digits and single hyphens, starting and ending with a letter or digit";
        }
        if (slug.All(char.IsAsciiDigit))
        {
            return "A slug cannot be all digits (numbers are product ids)";
        }
        if (slug.Length == 24 && slug.All(char.IsAsciiHexDigitLower))
        {
            return "A slug cannot look like a 24-digit hexadecimal id";
        }
        return null;
    }

    public static bool IsValid(string slug) => Problem(slug) is null;

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();
}
