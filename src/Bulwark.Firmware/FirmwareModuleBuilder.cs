using System.Buffers.Binary;

namespace Bulwark.Firmware;

/// <summary>What to put in a synthetic module; defaults match binary-version-reader's createFirmwareBinary.</summary>
public sealed record FirmwareModuleSpec
{
    public required ushort PlatformId { get; init; }
    public ModuleFunction Function { get; init; } = ModuleFunction.UserPart;
    public byte Index { get; init; } = 1;
    public ushort Version { get; init; } = 1;
    public ModuleDependency Dependency1 { get; init; }
    public ModuleDependency Dependency2 { get; init; }
    /// <summary>Null leaves 0xFFFF, which marks non-product firmware.</summary>
    public ushort? ProductId { get; init; }
    /// <summary>Null leaves 0xFFFF.</summary>
    public ushort? ProductVersion { get; init; }
    /// <summary>Bytes of 0xFF before the prefix, standing in for a vector table (0x184 Gen2, 0x200 Gen3).</summary>
    public int PrefixOffset { get; init; }
    public uint StartAddress { get; init; } = 0x08000000;
    /// <summary>Payload bytes between prefix and suffix: the first half pseudo-random, the rest 0xFF.</summary>
    public int DataSize { get; init; } = 1024;
    /// <summary>Seed for the pseudo-random half, so fixtures are reproducible.</summary>
    public int Seed { get; init; }
    /// <summary>Encoded extensions (see <see cref="ModuleExtensionEncoder"/>) placed after the prefix; END is appended.</summary>
    public IReadOnlyList<byte[]> PrefixExtensions { get; init; } = [];
    /// <summary>Encoded extensions placed at the start of the suffix; END is appended unless the last is END or
    /// PRODUCT_DATA (which then carries the product fields).</summary>
    public IReadOnlyList<byte[]> SuffixExtensions { get; init; } = [];
}

/// <summary>Builds valid synthetic modules for tests and simulators (a port of createFirmwareBinary, plus extensions).</summary>
public static class FirmwareModuleBuilder
{
    /// <summary>Builds the module with correct end address, suffix size, SHA-256 and CRC-32.</summary>
    public static byte[] Build(FirmwareModuleSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfNegative(spec.PrefixOffset);
        ArgumentOutOfRangeException.ThrowIfNegative(spec.DataSize);

        var prefixExtensions = spec.PrefixExtensions.Count == 0
            ? []
            : spec.PrefixExtensions.Append(ModuleExtensionEncoder.End()).SelectMany(e => e).ToArray();
        var lastSuffixType = spec.SuffixExtensions.Count > 0
            ? (ModuleExtensionType?)BinaryPrimitives.ReadUInt16LittleEndian(spec.SuffixExtensions[^1])
            : null;
        var productInExtension = lastSuffixType == ModuleExtensionType.ProductData;
        // Like addModuleExtensions: without END the legacy product bytes would be read as one more extension.
        var suffixExtensions = (lastSuffixType is null or ModuleExtensionType.End or ModuleExtensionType.ProductData
            ? spec.SuffixExtensions
            : spec.SuffixExtensions.Append(ModuleExtensionEncoder.End())).SelectMany(e => e).ToArray();
        var suffixSize = ModuleLayout.MinimumSuffixSize + suffixExtensions.Length + (productInExtension ? 0 : 4);

        var length = spec.PrefixOffset + ModuleLayout.PrefixSize + prefixExtensions.Length + spec.DataSize + suffixSize + ModuleLayout.CrcSize;
        var module = new byte[length];
        module.AsSpan().Fill(0xFF);
        var dataStart = spec.PrefixOffset + ModuleLayout.PrefixSize + prefixExtensions.Length;
        new Random(spec.Seed).NextBytes(module.AsSpan(dataStart, spec.DataSize / 2));

        var prefix = module.AsSpan(spec.PrefixOffset, ModuleLayout.PrefixSize);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, spec.StartAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[4..], checked(spec.StartAddress + (uint)length - ModuleLayout.CrcSize));
        prefix[8] = 0;
        prefix[9] = (byte)(prefixExtensions.Length > 0 ? ModuleFlags.PrefixExtensions : ModuleFlags.None);
        BinaryPrimitives.WriteUInt16LittleEndian(prefix[10..], spec.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(prefix[12..], spec.PlatformId);
        prefix[14] = (byte)spec.Function;
        prefix[15] = spec.Index;
        WriteDependency(prefix[16..], spec.Dependency1);
        WriteDependency(prefix[20..], spec.Dependency2);
        prefixExtensions.CopyTo(module, spec.PrefixOffset + ModuleLayout.PrefixSize);

        var suffixStart = length - ModuleLayout.CrcSize - suffixSize;
        suffixExtensions.CopyTo(module, suffixStart);
        if (spec.ProductId is { } productId)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(module.AsSpan(length - ModuleLayout.ProductIdOffsetFromEnd), productId);
        }
        if (spec.ProductVersion is { } productVersion)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(module.AsSpan(length - ModuleLayout.ProductVersionOffsetFromEnd), productVersion);
        }
        BinaryPrimitives.WriteUInt16LittleEndian(module.AsSpan(length - ModuleLayout.SuffixReservedOffsetFromEnd), 0);
        BinaryPrimitives.WriteUInt16LittleEndian(module.AsSpan(length - ModuleLayout.SuffixSizeOffsetFromEnd), (ushort)suffixSize);
        ModuleChecksums.Update(module);
        return module;
    }

    private static void WriteDependency(Span<byte> slot, ModuleDependency dependency)
    {
        slot[0] = (byte)dependency.Function;
        slot[1] = dependency.Index;
        BinaryPrimitives.WriteUInt16LittleEndian(slot[2..], dependency.Version);
    }
}

/// <summary>Rewrites a module's stored SHA-256 and CRC-32 after its bytes changed.</summary>
public static class ModuleChecksums
{
    /// <summary>Recomputes SHA-256 first (the CRC covers it), then CRC-32 (stored big-endian).</summary>
    public static void Update(Span<byte> module)
    {
        if (module.Length < ModuleLayout.Sha256OffsetFromEnd)
        {
            throw new ArgumentException($"a module needs at least {ModuleLayout.Sha256OffsetFromEnd} bytes", nameof(module));
        }
        UpdateSha256(module);
        UpdateCrc32(module);
    }

    /// <summary>Recomputes only the SHA-256 (over everything before it).</summary>
    public static void UpdateSha256(Span<byte> module) =>
        System.Security.Cryptography.SHA256.HashData(module[..^ModuleLayout.Sha256OffsetFromEnd],
            module.Slice(module.Length - ModuleLayout.Sha256OffsetFromEnd, ModuleLayout.Sha256Size));

    /// <summary>Recomputes only the CRC-32 (over everything before it).</summary>
    public static void UpdateCrc32(Span<byte> module) =>
        BinaryPrimitives.WriteUInt32BigEndian(module[^ModuleLayout.CrcSize..], Crc32.Compute(module[..^ModuleLayout.CrcSize]));
}
