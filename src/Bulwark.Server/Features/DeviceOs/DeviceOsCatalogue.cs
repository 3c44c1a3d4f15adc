using System.Globalization;
using System.Text.Json;
using Bulwark.Contracts;
using Bulwark.Server.Hosting;

namespace Bulwark.Server.Features.DeviceOs;

/// <summary>One Device OS release: <c>6.2.1</c> is module version 6201 (major·1000 + minor·100 + patch).</summary>
public sealed record DeviceOsRelease(string Version, int InternalVersion, string State, IReadOnlyList<int> SupportedPlatforms)
{
    public int Major => InternalVersion / 1000;

    /// <summary>Even major versions are long-term support lines (2.x, 4.x, 6.x); odd ones are developer previews.</summary>
    public bool IsLts => Major % 2 == 0;

    public bool IsFinal => State == "final";
}

/// <summary>The Device OS versions this server knows: the built-in list (<c>device-os-versions.json</c>) plus the
/// operator's <c>device-os-versions.json</c> in the data folder, whose entries add to or replace built-in ones.</summary>
public sealed class DeviceOsCatalogue
{
    public const string OperatorFileName = "device-os-versions.json";

    public DeviceOsCatalogue(IEnumerable<DeviceOsRelease> releases) =>
        Releases = releases.GroupBy(r => r.InternalVersion).Select(g => g.Last()).OrderByDescending(r => r.InternalVersion).ToList();

    /// <summary>Newest first.</summary>
    public IReadOnlyList<DeviceOsRelease> Releases { get; }

    public static DeviceOsCatalogue Load(string? dataDirectory)
    {
        var releases = new List<DeviceOsRelease>();
        using (var stream = typeof(DeviceOsCatalogue).Assembly.GetManifestResourceStream("Bulwark.Server.device-os-versions.json")
            ?? throw new InvalidOperationException("The built-in Device OS catalogue is missing"))
        {
            releases.AddRange(Parse(stream));
        }
        var operatorFile = dataDirectory is null ? null : Path.Combine(dataDirectory, OperatorFileName);
        if (operatorFile is not null && File.Exists(operatorFile))
        {
            using var stream = File.OpenRead(operatorFile);
            releases.AddRange(Parse(stream));
        }
        return new DeviceOsCatalogue(releases);
    }

    public static IEnumerable<DeviceOsRelease> Parse(Stream json)
    {
        using var document = JsonDocument.Parse(json);
        foreach (var entry in document.RootElement.GetProperty("versions").EnumerateArray())
        {
            var version = entry.GetProperty("version").GetString() ?? throw new InvalidDataException("A Device OS entry has no version");
            var internalVersion = ToInternal(version) ?? throw new InvalidDataException($"'{version}' is not a Device OS version (major.minor.patch)");
            var state = entry.TryGetProperty("state", out var s) ? s.GetString() ?? "final" : "final";
            var platforms = entry.TryGetProperty("supported_platforms", out var p) ? p.EnumerateArray().Select(x => x.GetInt32()).ToList() : [];
            yield return new DeviceOsRelease(version, internalVersion, state, platforms);
        }
    }

    /// <summary><c>6.2.1</c> (an optional <c>-rc.1</c> style suffix is ignored) to 6201; null when it is not a version.</summary>
    public static int? ToInternal(string version)
    {
        var core = version.Split('-', 2)[0].Split('.');
        if (core.Length != 3 || !int.TryParse(core[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !int.TryParse(core[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
            || !int.TryParse(core[2], NumberStyles.None, CultureInfo.InvariantCulture, out var patch)
            || minor > 9 || patch > 99 || major > 64)
        {
            return null;
        }
        return major * 1000 + minor * 100 + patch;
    }

    /// <summary><c>:version</c> as semver, <c>latest</c> (newest final release for the platform) or the internal number.</summary>
    public DeviceOsRelease? Find(string version, int? platformId)
    {
        var candidates = Releases.Where(r => platformId is null || r.SupportedPlatforms.Contains(platformId.Value));
        if (version.Equals("latest", StringComparison.OrdinalIgnoreCase))
        {
            return candidates.FirstOrDefault(r => r.IsFinal);
        }
        var wanted = ToInternal(version) ?? (int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1);
        return candidates.FirstOrDefault(r => r.InternalVersion == wanted);
    }

    /// <summary>The newest final release for the platform, optionally only LTS lines.</summary>
    public DeviceOsRelease? Latest(int platformId, bool ltsOnly = false) =>
        Releases.FirstOrDefault(r => r.IsFinal && r.SupportedPlatforms.Contains(platformId) && (!ltsOnly || r.IsLts));

    public static DeviceOsVersionResponse ToResponse(DeviceOsRelease r, string? baseUrl) => new(r.Version, r.InternalVersion, r.State,
        r.IsFinal ? "released" : r.State, r.IsLts, baseUrl is null ? null : $"{baseUrl}/v1/firmware/device-os/v{r.Version}", r.SupportedPlatforms);
}
