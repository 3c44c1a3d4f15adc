using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Bulwark.Firmware;

/// <summary>Parses and validates Particle firmware modules (binary-version-reader 3.1.3 compatible, but strict).</summary>
public static class FirmwareModule
{
    /// <summary>Parses a whole module file; on any defect returns false with a precise reason. Never throws.</summary>
    public static bool TryParse(
        ReadOnlySpan<byte> file,
        [NotNullWhen(true)] out ParsedModule? module,
        [NotNullWhen(false)] out FirmwareError? error)
    {
        error = Validate(file, out module);
        return error is null;
    }

    /// <summary>Convenience form of <see cref="TryParse"/> for callers that prefer a result object.</summary>
    public static FirmwareParseResult Parse(ReadOnlySpan<byte> file) =>
        TryParse(file, out var module, out var error) ? new FirmwareParseResult(module, null) : new FirmwareParseResult(null, error);

    /// <summary>CRC-32 as the module stores it: zlib CRC over everything but the last 4 bytes.</summary>
    public static uint ComputeCrc32(ReadOnlySpan<byte> file) => Crc32.Compute(file[..^ModuleLayout.CrcSize]);

    /// <summary>SHA-256 as the module stores it: over everything before the 38-byte SHA/size/CRC tail.</summary>
    public static byte[] ComputeSha256(ReadOnlySpan<byte> file) => SHA256.HashData(file[..^ModuleLayout.Sha256OffsetFromEnd]);

    private static FirmwareError? Validate(ReadOnlySpan<byte> file, out ParsedModule? module)
    {
        module = null;
        if (file.Length < ModuleLayout.MinimumModuleSize)
        {
            return new(FirmwareErrorReason.TooShort,
                $"{file.Length} bytes is less than the {ModuleLayout.MinimumModuleSize}-byte minimum (prefix + suffix + CRC)");
        }

        var prefixOffset = ModulePrefixLocator.Locate(file);
        if (prefixOffset < 0)
        {
            return ModulePrefixLocator.DeclaredLengthOfTruncatedPrefix(file) is { } declared
                ? new(FirmwareErrorReason.Truncated, $"the prefix declares {declared} bytes but the file has {file.Length}")
                : new(FirmwareErrorReason.PrefixNotFound,
                    $"no plausible module_info_t at offset 0, 0x200, 0x184, 0xC0, 0x10C or any 4-byte-aligned offset up to 0x{ModuleLayout.MaximumPrefixOffset:X}");
        }

        var prefix = file.Slice(prefixOffset, ModuleLayout.PrefixSize);
        var startAddress = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        var endAddress = BinaryPrimitives.ReadUInt32LittleEndian(prefix[4..]);
        var reserved = prefix[8];
        var flags = (ModuleFlags)prefix[9];
        var version = BinaryPrimitives.ReadUInt16LittleEndian(prefix[10..]);
        var platformId = BinaryPrimitives.ReadUInt16LittleEndian(prefix[12..]);
        var function = (ModuleFunction)prefix[14];
        var index = prefix[15];
        var dependency1 = ModulePrefixLocator.ReadDependency(prefix[16..]);
        var dependency2 = ModulePrefixLocator.ReadDependency(prefix[20..]);

        // The locator only accepts prefixes whose declared length fits, so only a longer file remains to refuse.
        var declaredLength = (long)endAddress - startAddress + ModuleLayout.CrcSize;
        if (file.Length != declaredLength)
        {
            return flags.HasFlag(ModuleFlags.Combined)
                ? new(FirmwareErrorReason.CombinedModuleUnsupported,
                    $"combined image of {file.Length} bytes; the first module declares {declaredLength}")
                : new(FirmwareErrorReason.TrailingData,
                    $"the prefix at 0x{prefixOffset:X} declares {declaredLength} bytes but the file has {file.Length}");
        }

        // Integrity before semantics: a corrupted byte anywhere should read as corruption, not as a strange field.
        var storedCrc = BinaryPrimitives.ReadUInt32BigEndian(file[^ModuleLayout.CrcSize..]);
        var actualCrc = ComputeCrc32(file);
        if (storedCrc != actualCrc)
        {
            return new(FirmwareErrorReason.CrcMismatch, $"stored CRC-32 {storedCrc:x8}, computed {actualCrc:x8}");
        }

        var storedSha = file.Slice(file.Length - ModuleLayout.Sha256OffsetFromEnd, ModuleLayout.Sha256Size);
        Span<byte> actualSha = stackalloc byte[ModuleLayout.Sha256Size];
        SHA256.HashData(file[..^ModuleLayout.Sha256OffsetFromEnd], actualSha);
        if (!storedSha.SequenceEqual(actualSha))
        {
            return new(FirmwareErrorReason.Sha256Mismatch,
                $"stored SHA-256 {Convert.ToHexStringLower(storedSha)}, computed {Convert.ToHexStringLower(actualSha)}");
        }

        if (!function.IsKnown())
        {
            return new(FirmwareErrorReason.UnknownModuleFunction, $"module function {(byte)function} is not defined by Device OS");
        }
        if ((flags & ~ModuleLayout.KnownFlags) != 0)
        {
            return new(FirmwareErrorReason.UnknownModuleFlags, $"module flags 0x{(byte)flags:X2} include undefined bits");
        }
        if (!dependency1.Function.IsKnown() || !dependency2.Function.IsKnown())
        {
            return new(FirmwareErrorReason.InvalidDependency,
                $"dependency functions {(byte)dependency1.Function} and {(byte)dependency2.Function}: at least one is not defined by Device OS");
        }

        int suffixSize = BinaryPrimitives.ReadUInt16LittleEndian(file[^ModuleLayout.SuffixSizeOffsetFromEnd..]);
        if (suffixSize < ModuleLayout.MinimumSuffixSize ||
            (suffixSize > ModuleLayout.MinimumSuffixSize && suffixSize < ModuleLayout.LegacyProductSuffixSize))
        {
            return new(FirmwareErrorReason.InvalidSuffixSize,
                $"suffix size {suffixSize} is neither 36, 40 nor larger than 40");
        }
        var suffixStart = file.Length - ModuleLayout.CrcSize - suffixSize;
        if (suffixStart < prefixOffset + ModuleLayout.PrefixSize)
        {
            return new(FirmwareErrorReason.InvalidSuffixSize,
                $"suffix size {suffixSize} reaches back to 0x{suffixStart:X}, into the prefix at 0x{prefixOffset:X}");
        }

        var prefixExtensions = new List<ModuleExtension>();
        var prefixSize = ModuleLayout.PrefixSize;
        if (flags.HasFlag(ModuleFlags.PrefixExtensions))
        {
            if (!ModuleExtensionReader.TryRead(file, prefixOffset + ModuleLayout.PrefixSize, suffixStart,
                    ModuleExtensionLocation.Prefix, requireEnd: true, prefixExtensions, out var prefixEnd, out var prefixError))
            {
                return prefixError;
            }
            prefixSize = prefixEnd - prefixOffset;
        }

        // A 40-byte suffix is exactly the legacy layout; only a larger one has room for extensions.
        var suffixExtensions = new List<ModuleExtension>();
        if (suffixSize > ModuleLayout.LegacyProductSuffixSize &&
            !ModuleExtensionReader.TryRead(file, suffixStart, file.Length - ModuleLayout.SuffixReservedOffsetFromEnd,
                ModuleExtensionLocation.Suffix, requireEnd: false, suffixExtensions, out _, out var suffixError))
        {
            return suffixError;
        }

        var securityModes = prefixExtensions.Concat(suffixExtensions).OfType<SecurityModeExtension>().ToList();
        if (securityModes.Count > 1)
        {
            return new(FirmwareErrorReason.DuplicateSecurityMode,
                $"{securityModes.Count} SECURITY_MODE extensions at {string.Join(", ", securityModes.Select(e => $"0x{e.Offset:X}"))}");
        }

        var hasProductFields = suffixSize >= ModuleLayout.LegacyProductSuffixSize;
        var dependencies = new List<ModuleDependency>();
        dependencies.AddRange(new[] { dependency1, dependency2 }.Where(d => !d.IsEmpty));
        dependencies.AddRange(prefixExtensions.Concat(suffixExtensions).OfType<DependencyExtension>().Select(e => e.Dependency));

        module = new ParsedModule
        {
            Length = file.Length,
            PrefixOffset = prefixOffset,
            PrefixSize = prefixSize,
            StartAddress = startAddress,
            EndAddress = endAddress,
            Reserved = reserved,
            Flags = flags,
            PlatformId = platformId,
            Function = function,
            Index = index,
            Version = version,
            Dependency1 = dependency1,
            Dependency2 = dependency2,
            Dependencies = dependencies,
            SuffixSize = suffixSize,
            ProductId = hasProductFields ? BinaryPrimitives.ReadUInt16LittleEndian(file[^ModuleLayout.ProductIdOffsetFromEnd..]) : null,
            ProductVersion = hasProductFields ? BinaryPrimitives.ReadUInt16LittleEndian(file[^ModuleLayout.ProductVersionOffsetFromEnd..]) : null,
            SuffixReserved = BinaryPrimitives.ReadUInt16LittleEndian(file[^ModuleLayout.SuffixReservedOffsetFromEnd..]),
            Sha256 = storedSha.ToArray(),
            Crc32 = storedCrc,
            PrefixExtensions = prefixExtensions,
            SuffixExtensions = suffixExtensions,
        };
        return null;
    }
}

/// <summary>Either a parsed module or the reason it was refused.</summary>
public sealed record FirmwareParseResult(ParsedModule? Module, FirmwareError? Error)
{
    [MemberNotNullWhen(true, nameof(Module))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsValid => Module is not null;
}
