using System.Collections.Frozen;

namespace Bulwark.Server.Features.Products;

/// <summary>One Device OS platform (<c>@particle/device-constants</c>).</summary>
/// <param name="Hardware">The hardware families of the platform that may each be a product. Most platforms have one;
/// platform 32 has two (P2 and Photon 2 must be in separate products though they run the same Device OS build).</param>
public sealed record Platform(int Id, string Name, string DisplayName, int? Generation, bool ProductEligible,
    bool Cellular, bool Wifi, bool DeviceProtection, IReadOnlyList<HardwareFamily> Hardware);

/// <summary>A kind of hardware a product is made of, and the device models that belong to it. Devices of one
/// family may share a product; devices of different families may not.</summary>
public sealed record HardwareFamily(string Key, string DisplayName, int PlatformId, IReadOnlyList<string> Models);

/// <summary>The platform table and the rule of which devices may share a product (particle-api.md §3.5, §11, and
/// Particle's security guide): Electron and E Series share; the E404X stands alone; every Tracker variant shares;
/// P2 and Photon 2 are apart; P1 and Photon are apart; B4xx and B5xx are apart. Pure data.</summary>
public static class Platforms
{
    public static IReadOnlyList<Platform> All { get; } =
    [
        P(0, "core", "Core", 1, eligible: false, wifi: true),
        P(3, "gcc", "GCC", null, eligible: false),
        P(6, "photon", "Photon", 2, eligible: true, wifi: true, families: [F("photon", "Photon", "Photon")]),
        P(8, "p1", "P1", 2, eligible: true, wifi: true, families: [F("p1", "P1", "P1")]),
        P(10, "electron", "Electron / E Series", 2, eligible: true, cellular: true,
            families: [F("electron", "Electron and E Series", "Electron", "U260", "U270", "G350", "ELC314", "E260", "E270", "E310", "E313", "E314", "E350", "E201", "E402", "E404")]),
        P(11, "esp32", "ESP32", null, eligible: false),
        P(12, "argon", "Argon", 3, eligible: true, wifi: true, protection: true, families: [F("argon", "Argon", "Argon")]),
        P(13, "boron", "Boron", 3, eligible: true, cellular: true, protection: true, families: [F("boron", "Boron", "Boron", "BRN404X", "BRN404", "BRN402", "BRN314", "BRN310")]),
        P(14, "xenon", "Xenon", 3, eligible: false),
        P(15, "esomx", "E-SoM-X (E404X)", 3, eligible: true, cellular: true, protection: true, families: [F("esomx", "E404X", "E404X")]),
        P(22, "asom", "A-SoM", 3, eligible: false),
        P(23, "bsom", "B-SoM (B4xx)", 3, eligible: true, cellular: true, protection: true, families: [F("bsom", "B-SoM B4xx", "B404X", "B404", "B402")]),
        P(24, "xsom", "X-SoM", 3, eligible: false),
        P(25, "b5som", "B5-SoM (B5xx)", 3, eligible: true, cellular: true, protection: true, families: [F("b5som", "B-SoM B5xx", "B524", "B523")]),
        P(26, "tracker", "Asset Tracker / Monitor One", 3, eligible: true, cellular: true, protection: true,
            families: [F("tracker", "Tracker One, Tracker SoM and Monitor One", "ONE404", "ONE402", "ONE524", "ONE523", "T404", "T402", "T524", "T523", "Monitor One")]),
        P(28, "trackerm", "Tracker-M", 3, eligible: true, cellular: true, protection: true, families: [F("trackerm", "Tracker M", "Tracker M")]),
        P(31, "raspi", "Raspberry Pi", null, eligible: false),
        P(32, "p2", "Photon 2 / P2", 4, eligible: true, wifi: true, protection: true,
            families: [F("p2", "P2", "P2"), F("photon2", "Photon 2", "Photon 2", "PHN2")]),
        P(35, "msom", "M-SoM / Muon", 4, eligible: true, cellular: true, wifi: true, protection: true,
            families: [F("msom", "M-SoM and Muon", "M-SoM", "M404", "M524", "M635", "Muon")]),
        P(37, "electron2", "Electron 2", 3, eligible: true, cellular: true, families: [F("electron2", "Electron 2", "Electron 2")]),
        P(38, "sulu", "Sulu", 4, eligible: true, cellular: true, wifi: true, protection: true, families: [F("sulu", "Sulu", "Sulu")]),
        P(42, "tachyon", "Tachyon", null, eligible: true, cellular: true, wifi: true, families: [F("tachyon", "Tachyon", "Tachyon")]),
        P(43, "linux", "Linux", null, eligible: true, families: [F("linux", "Linux", "Linux")]),
        P(82, "oak", "Oak", null, eligible: false),
        P(88, "duo", "Duo", null, eligible: false),
        P(103, "bluz", "Bluz", null, eligible: false),
    ];

    private static readonly FrozenDictionary<int, Platform> ById = All.ToFrozenDictionary(p => p.Id);

    private static readonly FrozenDictionary<string, HardwareFamily> FamilyByKey =
        All.SelectMany(p => p.Hardware).ToFrozenDictionary(f => f.Key, StringComparer.OrdinalIgnoreCase);

    private static readonly FrozenDictionary<string, HardwareFamily> FamilyByModel =
        All.SelectMany(p => p.Hardware).SelectMany(f => f.Models.Select(m => (m, f)))
            .ToFrozenDictionary(x => x.m, x => x.f, StringComparer.OrdinalIgnoreCase);

    public static Platform? Find(int id) => ById.GetValueOrDefault(id);

    public static HardwareFamily? FindFamily(string key) => FamilyByKey.GetValueOrDefault(key);

    /// <summary>The family a device model (SKU or board name, e.g. <c>E404X</c>, <c>Photon 2</c>) belongs to.</summary>
    public static HardwareFamily? FamilyOfModel(string model) => FamilyByModel.GetValueOrDefault(model.Trim());

    /// <summary>Decides what a new product is made of: the platform must exist and be product-eligible, and the
    /// hardware (optional when the platform has one family) must be one of the platform's families.</summary>
    public static PlatformChoice Choose(int platformId, string? hardware)
    {
        if (Find(platformId) is not { } platform)
        {
            return PlatformChoice.Reject($"Unknown platform_id {platformId}");
        }
        if (!platform.ProductEligible)
        {
            return PlatformChoice.Reject($"The {platform.DisplayName} platform ({platformId}) cannot be used for products");
        }
        if (string.IsNullOrWhiteSpace(hardware))
        {
            return PlatformChoice.Accept(platform, platform.Hardware[0]);
        }
        var family = platform.Hardware.FirstOrDefault(f => string.Equals(f.Key, hardware.Trim(), StringComparison.OrdinalIgnoreCase));
        return family is null
            ? PlatformChoice.Reject($"Hardware '{hardware}' is not part of platform {platformId}; choose one of: {string.Join(", ", platform.Hardware.Select(f => f.Key))}")
            : PlatformChoice.Accept(platform, family);
    }

    /// <summary>Whether devices of these two families may be in one product.</summary>
    public static bool MayShareProduct(HardwareFamily a, HardwareFamily b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return string.Equals(a.Key, b.Key, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether a device of this platform (and, when known, model) may join a product made of
    /// <paramref name="productHardware"/>. The platform must match; when the model is known its family must match too.</summary>
    public static bool MayJoinProduct(int productPlatformId, string productHardware, int devicePlatformId, string? deviceModel = null)
    {
        if (productPlatformId != devicePlatformId || FindFamily(productHardware) is not { } productFamily)
        {
            return false;
        }
        if (string.IsNullOrWhiteSpace(deviceModel))
        {
            return true;
        }
        var deviceFamily = FamilyOfModel(deviceModel);
        return deviceFamily is not null && deviceFamily.PlatformId == devicePlatformId && MayShareProduct(productFamily, deviceFamily);
    }

    private static Platform P(int id, string name, string display, int? generation, bool eligible, bool cellular = false,
        bool wifi = false, bool protection = false, HardwareFamily[]? families = null) =>
        new(id, name, display, generation, eligible, cellular, wifi, protection,
            families?.Select(f => f with { PlatformId = id }).ToArray() ?? []);

    private static HardwareFamily F(string key, string display, params string[] models) => new(key, display, 0, models);
}

/// <summary>The outcome of <see cref="Platforms.Choose"/>.</summary>
public sealed record PlatformChoice(Platform? Platform, HardwareFamily? Hardware, string? Error)
{
    public bool Accepted => Error is null;

    public static PlatformChoice Accept(Platform platform, HardwareFamily hardware) => new(platform, hardware, null);

    public static PlatformChoice Reject(string error) => new(null, null, error);
}
