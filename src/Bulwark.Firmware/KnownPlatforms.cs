namespace Bulwark.Firmware;

/// <summary>Platform facts binary-version-reader takes from @particle/device-constants 4.2.1 (checked by a conformance test).</summary>
public static class KnownPlatforms
{
    /// <summary>Platforms with generation &gt; 0; a prefix naming one scores higher when locating it.</summary>
    public static IReadOnlySet<ushort> Ids { get; } = new HashSet<ushort>
    {
        0, 6, 8, 10, 12, 13, 14, 15, 22, 23, 24, 25, 26, 28, 32, 35, 37, 38,
    };

    // User parts on these platforms grow towards lower addresses, so new extensions go into the prefix.
    private static readonly HashSet<ushort> UserPartGrowsLeft = [28, 32, 35, 38];

    private static readonly Dictionary<ushort, int> UserPartMaxSize = new()
    {
        [6] = 131072, [8] = 131072, [10] = 131072, [14] = 131072, [22] = 131072, [24] = 131072,
        [12] = 262144, [13] = 262144, [15] = 262144, [23] = 262144, [25] = 262144, [26] = 262144, [37] = 262144,
        [28] = 1572864, [32] = 1572864, [35] = 1572864, [38] = 1572864,
    };

    /// <summary>True when modules of this function on this platform take extensions in the prefix (growsLeft).</summary>
    public static bool GrowsLeft(ushort platformId, ModuleFunction function) =>
        function == ModuleFunction.UserPart && UserPartGrowsLeft.Contains(platformId);

    /// <summary>Largest module size the platform accepts for this function, or null when unlimited.</summary>
    public static int? MaxModuleSize(ushort platformId, ModuleFunction function) =>
        function == ModuleFunction.UserPart && UserPartMaxSize.TryGetValue(platformId, out var max) ? max : null;
}
