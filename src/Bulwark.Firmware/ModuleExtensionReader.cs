using System.Buffers.Binary;
using System.Text;

namespace Bulwark.Firmware;

/// <summary>Walks a TLV extension area strictly: every extension must lie wholly inside it.</summary>
internal static class ModuleExtensionReader
{
    /// <summary>Reads extensions in [start, end) of the file; stops after END. Returns the offset just past the last one.</summary>
    internal static bool TryRead(
        ReadOnlySpan<byte> span,
        int start,
        int end,
        ModuleExtensionLocation location,
        bool requireEnd,
        List<ModuleExtension> extensions,
        out int stoppedAt,
        out FirmwareError? error)
    {
        var offset = start;
        while (offset < end)
        {
            if (end - offset < ModuleLayout.ExtensionHeaderSize)
            {
                stoppedAt = offset;
                error = Malformed(location, $"{end - offset} stray byte(s) at 0x{offset:X} cannot hold an extension header");
                return false;
            }
            var type = (ModuleExtensionType)BinaryPrimitives.ReadUInt16LittleEndian(span[offset..]);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(span[(offset + 2)..]);
            if (type == ModuleExtensionType.Invalid)
            {
                stoppedAt = offset;
                error = Malformed(location, $"extension type 0xFFFF (erased flash) at 0x{offset:X}");
                return false;
            }
            if (length < ModuleLayout.ExtensionHeaderSize)
            {
                stoppedAt = offset;
                error = Malformed(location, $"extension 0x{(ushort)type:X4} at 0x{offset:X} has length {length}, less than its 4-byte header");
                return false;
            }
            if (length > end - offset)
            {
                stoppedAt = offset;
                error = Malformed(location, $"extension 0x{(ushort)type:X4} at 0x{offset:X} has length {length} but only {end - offset} byte(s) remain in the {Describe(location)} area");
                return false;
            }

            // Copied so the parsed module does not keep the caller's (possibly pooled) buffer alive or aliased.
            ReadOnlyMemory<byte> raw = span.Slice(offset, length).ToArray();
            if (!TryDecode(raw, type, location, offset, out var extension, out error))
            {
                stoppedAt = offset;
                return false;
            }
            extensions.Add(extension);
            offset += length;
            if (type == ModuleExtensionType.End)
            {
                stoppedAt = offset;
                error = null;
                return true;
            }
        }

        stoppedAt = offset;
        if (requireEnd)
        {
            error = new FirmwareError(FirmwareErrorReason.MissingEndExtension,
                $"{Describe(location)} extensions starting at 0x{start:X} run to 0x{end:X} without an END extension");
            return false;
        }
        error = null;
        return true;
    }

    private static bool TryDecode(
        ReadOnlyMemory<byte> raw,
        ModuleExtensionType type,
        ModuleExtensionLocation location,
        int offset,
        out ModuleExtension extension,
        out FirmwareError? error)
    {
        var body = raw.Span[ModuleLayout.ExtensionHeaderSize..];
        error = null;
        switch (type)
        {
            case ModuleExtensionType.End:
                extension = new EndExtension(location, offset, raw);
                return true;

            case ModuleExtensionType.ProductData when body.Length == 6:
                extension = new ProductDataExtension(location, offset, raw,
                    Id: BinaryPrimitives.ReadUInt32LittleEndian(body),
                    // The legacy product_id field overlaps the id's upper half; that is what the package reports.
                    ProductId: BinaryPrimitives.ReadUInt16LittleEndian(body[2..]),
                    ProductVersion: BinaryPrimitives.ReadUInt16LittleEndian(body[4..]));
                return true;

            case ModuleExtensionType.DynamicLocation when body.Length == 12:
                extension = new DynamicLocationExtension(location, offset, raw,
                    BinaryPrimitives.ReadUInt32LittleEndian(body),
                    BinaryPrimitives.ReadUInt32LittleEndian(body[4..]),
                    BinaryPrimitives.ReadUInt32LittleEndian(body[8..]));
                return true;

            case ModuleExtensionType.Dependency when body.Length == 8:
                var dependency = new ModuleDependency((ModuleFunction)body[0], body[1],
                    BinaryPrimitives.ReadUInt16LittleEndian(body[2..]), BinaryPrimitives.ReadUInt32LittleEndian(body[4..]));
                if (!dependency.Function.IsKnown())
                {
                    extension = null!;
                    error = InvalidPayload(type, offset, $"names unknown module function {(byte)dependency.Function}");
                    return false;
                }
                extension = new DependencyExtension(location, offset, raw, dependency);
                return true;

            case ModuleExtensionType.Hash when body.Length >= 2 && body[1] == body.Length - 2:
                extension = new HashExtension(location, offset, raw, body[0], raw[(ModuleLayout.ExtensionHeaderSize + 2)..]);
                return true;

            case ModuleExtensionType.Name:
                extension = new NameExtension(location, offset, raw, Encoding.UTF8.GetString(body));
                return true;

            case ModuleExtensionType.AssetDependency when body.Length >= 2 && body[1] <= body.Length - 2:
                var hashEnd = ModuleLayout.ExtensionHeaderSize + 2 + body[1];
                extension = new AssetDependencyExtension(location, offset, raw, body[0],
                    raw[(ModuleLayout.ExtensionHeaderSize + 2)..hashEnd], Encoding.UTF8.GetString(raw.Span[hashEnd..]));
                return true;

            case ModuleExtensionType.SecurityMode when body.Length >= 1:
                if (body[0] > (byte)SecurityMode.Protected)
                {
                    extension = null!;
                    error = InvalidPayload(type, offset, $"has unknown security mode {body[0]}");
                    return false;
                }
                extension = new SecurityModeExtension(location, offset, raw, (SecurityMode)body[0],
                    raw[(ModuleLayout.ExtensionHeaderSize + 1)..]);
                return true;

            case ModuleExtensionType.AssetType when body.Length >= 1:
                extension = new AssetTypeExtension(location, offset, raw, body[0]);
                return true;

            case ModuleExtensionType.ProductData or ModuleExtensionType.DynamicLocation or ModuleExtensionType.Dependency
                or ModuleExtensionType.Hash or ModuleExtensionType.AssetDependency or ModuleExtensionType.SecurityMode
                or ModuleExtensionType.AssetType:
                extension = null!;
                error = InvalidPayload(type, offset, $"has a {raw.Length}-byte length that does not fit its layout");
                return false;

            default:
                extension = new UnknownExtension(type, location, offset, raw);
                return true;
        }
    }

    private static FirmwareError Malformed(ModuleExtensionLocation location, string detail) =>
        new(FirmwareErrorReason.MalformedExtension, $"{Describe(location)} extensions: {detail}");

    private static FirmwareError InvalidPayload(ModuleExtensionType type, int offset, string detail) =>
        new(FirmwareErrorReason.InvalidExtensionPayload, $"{type} extension at 0x{offset:X} {detail}");

    private static string Describe(ModuleExtensionLocation location) =>
        location == ModuleExtensionLocation.Prefix ? "prefix" : "suffix";
}
