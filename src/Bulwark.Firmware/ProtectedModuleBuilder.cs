using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Bulwark.Firmware;

/// <summary>Marks a module protected the way binary-version-reader's createProtectedModule does: replace any
/// SECURITY_MODE extension, grow the prefix or suffix, fix addresses, recompute SHA-256 and CRC-32.</summary>
public static class ProtectedModuleBuilder
{
    // binary-version-reader aligns a module whose start moves (prefix growth) down to 8 bytes.
    private const int StartAlignment = 8;

    /// <summary>Adds SECURITY_MODE = Protected (a bootloader marked so turns on Device Protection).</summary>
    public static bool TryProtect(
        ReadOnlySpan<byte> module,
        [NotNullWhen(true)] out byte[]? protectedModule,
        [NotNullWhen(false)] out FirmwareError? error) =>
        TrySetSecurityMode(module, SecurityMode.Protected, default, out protectedModule, out error);

    /// <summary>Adds SECURITY_MODE = Protected carrying a certificate.</summary>
    public static bool TryProtect(
        ReadOnlySpan<byte> module,
        ReadOnlySpan<byte> certificate,
        [NotNullWhen(true)] out byte[]? protectedModule,
        [NotNullWhen(false)] out FirmwareError? error) =>
        TrySetSecurityMode(module, SecurityMode.Protected, certificate, out protectedModule, out error);

    /// <summary>Replaces any SECURITY_MODE extension with one of the given mode; the input must be a valid module.</summary>
    public static bool TrySetSecurityMode(
        ReadOnlySpan<byte> module,
        SecurityMode mode,
        ReadOnlySpan<byte> certificate,
        [NotNullWhen(true)] out byte[]? result,
        [NotNullWhen(false)] out FirmwareError? error)
    {
        result = null;
        if (!FirmwareModule.TryParse(module, out var parsed, out error))
        {
            return false;
        }
        if ((parsed.Flags & (ModuleFlags.Compressed | ModuleFlags.Combined)) != 0)
        {
            error = Unsupported($"cannot add extensions to a module flagged {parsed.Flags}");
            return false;
        }
        if (certificate.Length > ushort.MaxValue - ModuleLayout.ExtensionHeaderSize - 1)
        {
            error = Unsupported($"a {certificate.Length}-byte certificate does not fit one extension");
            return false;
        }

        var securityMode = ModuleExtensionEncoder.SecurityMode(mode, certificate);
        var inPrefix = parsed.Flags.HasFlag(ModuleFlags.PrefixExtensions) || KnownPlatforms.GrowsLeft(parsed.PlatformId, parsed.Function);
        // The package only replaces SECURITY_MODE where it adds the new one; one left in the other area would make
        // two (found by the fuzzer), so refuse rather than guess which one the device honours.
        var otherArea = inPrefix ? parsed.SuffixExtensions : parsed.PrefixExtensions;
        if (otherArea.OfType<SecurityModeExtension>().FirstOrDefault() is { } stray)
        {
            error = Unsupported($"SECURITY_MODE at 0x{stray.Offset:X} is in the {stray.Location.ToString().ToLowerInvariant()}, "
                + $"but this module takes new extensions in the {(inPrefix ? "prefix" : "suffix")}");
            return false;
        }
        result = inPrefix
            ? GrowPrefix(module, parsed, securityMode, out error)
            : GrowSuffix(module, parsed, securityMode, out error);
        if (result is null)
        {
            error ??= Unsupported("the module could not be rewritten");
            return false;
        }
        if (KnownPlatforms.MaxModuleSize(parsed.PlatformId, parsed.Function) is { } maxSize && result.Length > maxSize)
        {
            error = Unsupported($"the result is {result.Length} bytes, over the platform's {maxSize}-byte limit for {parsed.Function}");
            result = null;
            return false;
        }
        ModuleChecksums.Update(result);
        return true;
    }

    private static byte[]? GrowSuffix(ReadOnlySpan<byte> module, ParsedModule parsed, byte[] securityMode, out FirmwareError? error)
    {
        // New extension first, existing ones after it, as the package orders them.
        var extensions = new List<byte[]> { securityMode };
        extensions.AddRange(parsed.SuffixExtensions.Where(e => e.Type != ModuleExtensionType.SecurityMode).Select(e => e.RawData.ToArray()));
        var last = parsed.SuffixExtensions.LastOrDefault(e => e.Type != ModuleExtensionType.SecurityMode)?.Type;
        if (last is not (ModuleExtensionType.End or ModuleExtensionType.ProductData))
        {
            extensions.Add(ModuleExtensionEncoder.End());
        }

        var productData = parsed.SuffixExtensions.OfType<ProductDataExtension>().ToList();
        if (productData.Count > 1 || (productData.Count == 1 && last != ModuleExtensionType.ProductData))
        {
            error = Unsupported("the suffix's PRODUCT_DATA extension must be its last one, where the legacy product fields are");
            return null;
        }
        var hasProductExtension = productData.Count == 1;
        if (!hasProductExtension && parsed.ProductId is null)
        {
            error = Unsupported("a 36-byte suffix has no product fields to keep (binary-version-reader fails on it too)");
            return null;
        }

        var suffixSize = ModuleLayout.MinimumSuffixSize + extensions.Sum(e => e.Length) + (hasProductExtension ? 0 : 4);
        if (suffixSize > ushort.MaxValue)
        {
            error = Unsupported($"the suffix would grow to {suffixSize} bytes, over the uint16 size field");
            return null;
        }
        var bodyEnd = module.Length - ModuleLayout.CrcSize - parsed.SuffixSize;
        var length = bodyEnd + suffixSize + ModuleLayout.CrcSize;
        var endAddress = (long)parsed.StartAddress + length - ModuleLayout.CrcSize;
        if (endAddress > uint.MaxValue)
        {
            error = Unsupported("the module's end address would pass 4 GiB");
            return null;
        }

        var output = new byte[length];
        module[..bodyEnd].CopyTo(output);
        var offset = bodyEnd;
        foreach (var extension in extensions)
        {
            extension.CopyTo(output, offset);
            offset += extension.Length;
        }
        if (!hasProductExtension)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(offset), parsed.ProductId!.Value);
            BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(offset + 2), parsed.ProductVersion!.Value);
        }
        BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(length - ModuleLayout.SuffixReservedOffsetFromEnd), parsed.SuffixReserved);
        BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(length - ModuleLayout.SuffixSizeOffsetFromEnd), (ushort)suffixSize);
        BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(parsed.PrefixOffset + 4), (uint)endAddress);
        error = null;
        return output;
    }

    private static byte[]? GrowPrefix(ReadOnlySpan<byte> module, ParsedModule parsed, byte[] securityMode, out FirmwareError? error)
    {
        if (parsed.PrefixOffset != 0)
        {
            error = Unsupported($"prefix extensions need the prefix at offset 0, not 0x{parsed.PrefixOffset:X}");
            return null;
        }

        // The package appends after the old END, which hides the new extension from every parser when the prefix
        // already had extensions; we insert before END instead (identical output when there were none).
        var extensions = parsed.PrefixExtensions
            .Where(e => e.Type is not (ModuleExtensionType.SecurityMode or ModuleExtensionType.End))
            .Select(e => e.RawData.ToArray())
            .Append(securityMode)
            .ToList();
        var unalignedPrefixSize = ModuleLayout.PrefixSize + extensions.Sum(e => e.Length) + ModuleLayout.ExtensionHeaderSize;
        var unalignedLength = module.Length + unalignedPrefixSize - parsed.PrefixSize;
        var unalignedStart = (long)parsed.EndAddress - (unalignedLength - ModuleLayout.CrcSize);
        // Checked before the modulo: a negative remainder would become a negative padding length (found by the fuzzer).
        if (unalignedStart < 0)
        {
            error = Unsupported("growing the prefix would move the start address below zero");
            return null;
        }
        var padding = (int)(unalignedStart % StartAlignment);
        var startAddress = unalignedStart - padding;
        extensions.Add(ModuleExtensionEncoder.End(padding));

        var length = unalignedLength + padding;
        var output = new byte[length];
        module[..ModuleLayout.PrefixSize].CopyTo(output);
        BinaryPrimitives.WriteUInt32LittleEndian(output, (uint)startAddress);
        output[9] |= (byte)ModuleFlags.PrefixExtensions;
        var offset = ModuleLayout.PrefixSize;
        foreach (var extension in extensions)
        {
            extension.CopyTo(output, offset);
            offset += extension.Length;
        }
        module[parsed.PrefixSize..].CopyTo(output.AsSpan(offset));

        // A relocatable module records its own start address; it moved with the prefix.
        var shift = length - module.Length;
        foreach (var location in parsed.SuffixExtensions.OfType<DynamicLocationExtension>())
        {
            BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(location.Offset + shift + ModuleLayout.ExtensionHeaderSize), (uint)startAddress);
        }
        error = null;
        return output;
    }

    private static FirmwareError Unsupported(string message) => new(FirmwareErrorReason.UnsupportedModification, message);
}
