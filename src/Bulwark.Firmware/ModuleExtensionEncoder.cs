using System.Buffers.Binary;
using System.Text;

namespace Bulwark.Firmware;

/// <summary>Encodes TLV extensions byte for byte as binary-version-reader's encodeModuleExtension does.</summary>
public static class ModuleExtensionEncoder
{
    /// <summary>END, with optional zero padding (used to align a prefix).</summary>
    public static byte[] End(int padding = 0) => Encode(ModuleExtensionType.End, new byte[padding]);

    /// <summary>PRODUCT_DATA; like the package, the id's low half is 0xFFFF and the 16-bit id sits at the legacy position.</summary>
    public static byte[] ProductData(ushort productId, ushort productVersion)
    {
        var body = new byte[6];
        BinaryPrimitives.WriteUInt16LittleEndian(body, 0xFFFF);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), productId);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), productVersion);
        return Encode(ModuleExtensionType.ProductData, body);
    }

    /// <summary>DYNAMIC_LOCATION.</summary>
    public static byte[] DynamicLocation(uint moduleStartAddress, uint dynalibLoadAddress, uint dynalibStartAddress)
    {
        var body = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(body, moduleStartAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), dynalibLoadAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), dynalibStartAddress);
        return Encode(ModuleExtensionType.DynamicLocation, body);
    }

    /// <summary>DEPENDENCY with a target id (NCP and radio-stack dependencies use it).</summary>
    public static byte[] Dependency(ModuleFunction function, byte index, ushort version, uint targetId)
    {
        var body = new byte[8];
        body[0] = (byte)function;
        body[1] = index;
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), version);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), targetId);
        return Encode(ModuleExtensionType.Dependency, body);
    }

    /// <summary>HASH (type 0 = SHA-256).</summary>
    public static byte[] Hash(ReadOnlySpan<byte> hash, byte hashType = 0) =>
        Encode(ModuleExtensionType.Hash, [hashType, checked((byte)hash.Length), .. hash]);

    /// <summary>NAME as UTF-8.</summary>
    public static byte[] Name(string name) => Encode(ModuleExtensionType.Name, Encoding.UTF8.GetBytes(name));

    /// <summary>ASSET_DEPENDENCY: hash type, hash length, hash, UTF-8 name.</summary>
    public static byte[] AssetDependency(ReadOnlySpan<byte> hash, string name, byte hashType = 0) =>
        Encode(ModuleExtensionType.AssetDependency, [hashType, checked((byte)hash.Length), .. hash, .. Encoding.UTF8.GetBytes(name)]);

    /// <summary>SECURITY_MODE with an optional certificate.</summary>
    public static byte[] SecurityMode(SecurityMode mode, ReadOnlySpan<byte> certificate = default) =>
        Encode(ModuleExtensionType.SecurityMode, [(byte)mode, .. certificate]);

    /// <summary>ASSET_TYPE plus its reserved byte.</summary>
    public static byte[] AssetType(byte assetType) => Encode(ModuleExtensionType.AssetType, [assetType, 0]);

    /// <summary>Any type with the given body; the header's length includes itself.</summary>
    public static byte[] Encode(ModuleExtensionType type, ReadOnlySpan<byte> body)
    {
        var length = ModuleLayout.ExtensionHeaderSize + body.Length;
        if (length > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(body), $"an extension cannot exceed {ushort.MaxValue} bytes");
        }
        var extension = new byte[length];
        BinaryPrimitives.WriteUInt16LittleEndian(extension, (ushort)type);
        BinaryPrimitives.WriteUInt16LittleEndian(extension.AsSpan(2), (ushort)length);
        body.CopyTo(extension.AsSpan(ModuleLayout.ExtensionHeaderSize));
        return extension;
    }
}
