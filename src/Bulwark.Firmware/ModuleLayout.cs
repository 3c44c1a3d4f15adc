namespace Bulwark.Firmware;

/// <summary>Fixed sizes and offsets of the Particle module format (device-os dynalib/inc/module_info.h).</summary>
public static class ModuleLayout
{
    /// <summary>Size of module_info_t.</summary>
    public const int PrefixSize = 24;
    /// <summary>Size of module_info_suffix_t: reserved (2) + SHA-256 (32) + suffix size (2).</summary>
    public const int MinimumSuffixSize = 36;
    /// <summary>Minimal suffix plus the legacy product id and version (2 + 2).</summary>
    public const int LegacyProductSuffixSize = MinimumSuffixSize + 4;
    public const int CrcSize = 4;
    public const int Sha256Size = 32;
    /// <summary>Every TLV extension starts with type (uint16) and length (uint16, header included).</summary>
    public const int ExtensionHeaderSize = 4;
    public const int MinimumModuleSize = PrefixSize + MinimumSuffixSize + CrcSize;

    /// <summary>Offset of the SHA-256 from the end of the file: SHA + suffix size + CRC.</summary>
    public const int Sha256OffsetFromEnd = Sha256Size + 2 + CrcSize;
    public const int SuffixSizeOffsetFromEnd = 2 + CrcSize;
    public const int SuffixReservedOffsetFromEnd = 2 + Sha256OffsetFromEnd;
    public const int ProductVersionOffsetFromEnd = 2 + SuffixReservedOffsetFromEnd;
    public const int ProductIdOffsetFromEnd = 2 + ProductVersionOffsetFromEnd;

    /// <summary>Flag bits Device OS defines; anything else is unknown.</summary>
    public const ModuleFlags KnownFlags = ModuleFlags.DropModuleInfo | ModuleFlags.Compressed | ModuleFlags.Combined
        | ModuleFlags.Encrypted | ModuleFlags.PrefixExtensions;

    /// <summary>Offsets tried first, in binary-version-reader's order: none, Gen3 (nRF52840) and Gen2 (STM32F2)
    /// vector tables, then Bluz and Core.</summary>
    public static ReadOnlySpan<int> PreferredPrefixOffsets => [0, 0x200, 0x184, 0xC0, 0x10C];

    /// <summary>binary-version-reader gives up scanning for a prefix beyond 8 KiB.</summary>
    public const int MaximumPrefixOffset = 8 * 1024;
}
