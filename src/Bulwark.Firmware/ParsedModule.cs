namespace Bulwark.Firmware;

/// <summary>A module that passed every structural and integrity check, with everything its headers say.</summary>
public sealed record ParsedModule
{
    /// <summary>File length in bytes (= EndAddress − StartAddress + 4).</summary>
    public required int Length { get; init; }
    /// <summary>Where module_info_t was found: 0, or after a vector table (0x200 Gen3, 0x184 Gen2, ...).</summary>
    public required int PrefixOffset { get; init; }
    /// <summary>Prefix size including prefix extensions (24 without them).</summary>
    public required int PrefixSize { get; init; }
    public required uint StartAddress { get; init; }
    /// <summary>Address of the CRC-32, as stored in the prefix.</summary>
    public required uint EndAddress { get; init; }
    /// <summary>The prefix's reserved byte (the MCU target on Gen3).</summary>
    public required byte Reserved { get; init; }
    public required ModuleFlags Flags { get; init; }
    public required ushort PlatformId { get; init; }
    public required ModuleFunction Function { get; init; }
    public required byte Index { get; init; }
    /// <summary>module_version; for system parts and mono firmware this is the Device OS version (6200 = 6.2.0).</summary>
    public required ushort Version { get; init; }
    /// <summary>First prefix dependency slot, possibly empty.</summary>
    public required ModuleDependency Dependency1 { get; init; }
    /// <summary>Second prefix dependency slot, possibly empty.</summary>
    public required ModuleDependency Dependency2 { get; init; }
    /// <summary>Non-empty prefix dependencies followed by DEPENDENCY extensions.</summary>
    public required IReadOnlyList<ModuleDependency> Dependencies { get; init; }
    /// <summary>Suffix size field: 36 + suffix extensions (40 with the legacy product fields).</summary>
    public required int SuffixSize { get; init; }
    /// <summary>Legacy 16-bit product id (0xFFFF for non-product firmware); null when the suffix has no product fields.</summary>
    public required ushort? ProductId { get; init; }
    /// <summary>Product firmware version; null when the suffix has no product fields.</summary>
    public required ushort? ProductVersion { get; init; }
    /// <summary>The suffix's reserved uint16.</summary>
    public required ushort SuffixReserved { get; init; }
    /// <summary>SHA-256 over everything before it (stored and verified equal).</summary>
    public required ReadOnlyMemory<byte> Sha256 { get; init; }
    /// <summary>CRC-32 over everything before it (stored big-endian, verified equal).</summary>
    public required uint Crc32 { get; init; }
    public required IReadOnlyList<ModuleExtension> PrefixExtensions { get; init; }
    public required IReadOnlyList<ModuleExtension> SuffixExtensions { get; init; }

    /// <summary>The SECURITY_MODE extension, if any (prefix or suffix).</summary>
    public SecurityModeExtension? SecurityModeExtension =>
        PrefixExtensions.Concat(SuffixExtensions).OfType<SecurityModeExtension>().FirstOrDefault();

    /// <summary>SECURITY_MODE value, null when the module has no such extension.</summary>
    public SecurityMode? SecurityMode => SecurityModeExtension?.Mode;

    /// <summary>Has SECURITY_MODE = Protected anywhere, as binary-version-reader reports it.</summary>
    public bool IsProtected => SecurityMode == Firmware.SecurityMode.Protected;

    /// <summary>Flashing this module turns Device Protection on: a bootloader with SECURITY_MODE = Protected in its suffix.</summary>
    public bool EnablesDeviceProtection =>
        Function == ModuleFunction.Bootloader &&
        SuffixExtensions.OfType<SecurityModeExtension>().Any(e => e.Mode == Firmware.SecurityMode.Protected);

    /// <summary>The NAME extension's text, if any.</summary>
    public string? Name => PrefixExtensions.Concat(SuffixExtensions).OfType<NameExtension>().FirstOrDefault()?.Name;

    public IEnumerable<ModuleExtension> AllExtensions => PrefixExtensions.Concat(SuffixExtensions);
}
