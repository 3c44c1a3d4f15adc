using System.Text.Json;

namespace Bulwark.Firmware.Tests;

/// <summary>One entry of manifest.json written by conformance/generate.js.</summary>
public sealed record ConformanceCase(string Name, string Directory, JsonElement Json)
{
    public string? File => Json.TryGetProperty("file", out var file) ? file.GetString() : null;
    public byte[] Bytes => System.IO.File.ReadAllBytes(Path.Combine(Directory, File!));
    public string SourceKind => Json.GetProperty("source").GetProperty("kind").GetString()!;
    public string? SourceInput => Json.GetProperty("source").TryGetProperty("input", out var input) ? input.GetString() : null;
    public byte[] Certificate => Json.GetProperty("source").TryGetProperty("certificateHex", out var hex) ? Convert.FromHexString(hex.GetString()!) : [];
    public bool ExpectValid => Json.GetProperty("expect").GetProperty("valid").GetBoolean();
    public string? ExpectedReason => Json.GetProperty("expect").TryGetProperty("reason", out var reason) ? reason.GetString() : null;
    public JsonElement? PackageParse => Json.TryGetProperty("parse", out var parse) ? parse : null;
    public string? PackageProtectError => Json.TryGetProperty("protectError", out var error) ? error.GetString() : null;
    public bool? BuilderMatchesPackage => Json.TryGetProperty("builderMatchesPackage", out var matches) ? matches.GetBoolean() : null;

    public override string ToString() => Name;
}

/// <summary>A manifest plus the directory holding its binaries.</summary>
public sealed class ConformanceManifest
{
    public required string Directory { get; init; }
    public required JsonDocument Document { get; init; }
    public required IReadOnlyList<ConformanceCase> Cases { get; init; }

    public ConformanceCase this[string name] => Cases.Single(c => c.Name == name);

    public static ConformanceManifest Load(string directory)
    {
        var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "manifest.json")));
        var cases = document.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => new ConformanceCase(c.GetProperty("name").GetString()!, directory, c))
            .ToList();
        return new ConformanceManifest { Directory = directory, Document = document, Cases = cases };
    }

    /// <summary>The fixtures committed with the tests, copied next to the test assembly.</summary>
    public static ConformanceManifest LoadCommitted() =>
        Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "Conformance"));
}
