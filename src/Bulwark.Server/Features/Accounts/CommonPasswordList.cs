using System.Collections.Frozen;
using System.IO.Compression;

namespace Bulwark.Server.Features.Accounts;

/// <summary>The list of common and breached passwords shipped with the server (see Resources/README.md),
/// held as a frozen set of lower-cased entries so a lookup is a hash probe.</summary>
public sealed class CommonPasswordList
{
    private readonly FrozenSet<string> _entries;

    public CommonPasswordList(IEnumerable<string> entries) =>
        _entries = entries.Select(e => e.ToLowerInvariant()).ToFrozenSet(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public bool Contains(string password) => _entries.Contains(password.ToLowerInvariant());

    private static readonly Lazy<CommonPasswordList> Embedded = new(Load);

    /// <summary>The embedded list (about half a million entries), loaded once per process.</summary>
    public static CommonPasswordList LoadEmbedded() => Embedded.Value;

    private static CommonPasswordList Load()
    {
        using var resource = typeof(CommonPasswordList).Assembly.GetManifestResourceStream("Bulwark.Server.common-passwords.txt.gz")
            ?? throw new InvalidOperationException("The common-password list is missing from the server assembly");
        using var gzip = new GZipStream(resource, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        var entries = new List<string>(500_000);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                entries.Add(line);
            }
        }
        return new CommonPasswordList(entries);
    }
}
