namespace Bulwark.Firmware;

/// <summary>Extension type codes (<c>module_info_extension_type_t</c>).</summary>
public enum ModuleExtensionType : ushort
{
    End = 0x0000,
    ProductData = 0x0001,
    DynamicLocation = 0x0002,
    Dependency = 0x0003,
    Hash = 0x0010,
    Name = 0x0011,
    AssetDependency = 0x0012,
    SecurityMode = 0x0013,
    AssetType = 0x0014,
    Invalid = 0xFFFF,
}

/// <summary>Whether an extension sits after the prefix or inside the suffix.</summary>
public enum ModuleExtensionLocation
{
    Prefix,
    Suffix,
}

/// <summary>One TLV extension: its raw bytes (header included) and where it sits in the file.</summary>
public abstract record ModuleExtension(ModuleExtensionType Type, ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData)
{
    /// <summary>Total length including the 4-byte type/length header.</summary>
    public int Length => RawData.Length;
}

/// <summary>END: terminates a list; any bytes past its 4-byte header are alignment padding.</summary>
public sealed record EndExtension(ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData)
    : ModuleExtension(ModuleExtensionType.End, Location, Offset, RawData);

/// <summary>PRODUCT_DATA: Id is the raw uint32; ProductId is the 16 bits at the legacy product_id position.</summary>
public sealed record ProductDataExtension(ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData, uint Id, ushort ProductId, ushort ProductVersion)
    : ModuleExtension(ModuleExtensionType.ProductData, Location, Offset, RawData);

/// <summary>DYNAMIC_LOCATION: where a relocatable module and its dynalib live.</summary>
public sealed record DynamicLocationExtension(ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData, uint ModuleStartAddress, uint DynalibLoadAddress, uint DynalibStartAddress)
    : ModuleExtension(ModuleExtensionType.DynamicLocation, Location, Offset, RawData);

/// <summary>DEPENDENCY: an extra dependency, with a target id for NCP and radio-stack modules.</summary>
public sealed record DependencyExtension(ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData, ModuleDependency Dependency)
    : ModuleExtension(ModuleExtensionType.Dependency, Location, Offset, RawData);

/// <summary>HASH: a typed hash of the module (type 0 = SHA-256).</summary>
public sealed record HashExtension(ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData, byte HashType, ReadOnlyMemory<byte> Hash)
    : ModuleExtension(ModuleExtensionType.Hash, Location, Offset, RawData);

/// <summary>NAME: a UTF-8 module name (asset modules carry their file name here).</summary>
public sealed record NameExtension(ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData, string Name)
    : ModuleExtension(ModuleExtensionType.Name, Location, Offset, RawData);

/// <summary>ASSET_DEPENDENCY: an asset the application needs, by hash and name.</summary>
public sealed record AssetDependencyExtension(ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData, byte HashType, ReadOnlyMemory<byte> Hash, string Name)
    : ModuleExtension(ModuleExtensionType.AssetDependency, Location, Offset, RawData);

/// <summary>SECURITY_MODE: the protection mode and an optional certificate.</summary>
public sealed record SecurityModeExtension(ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData, SecurityMode Mode, ReadOnlyMemory<byte> Certificate)
    : ModuleExtension(ModuleExtensionType.SecurityMode, Location, Offset, RawData);

/// <summary>ASSET_TYPE: what kind of asset an asset module holds.</summary>
public sealed record AssetTypeExtension(ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData, byte AssetType)
    : ModuleExtension(ModuleExtensionType.AssetType, Location, Offset, RawData);

/// <summary>Any type this library does not interpret; kept byte for byte.</summary>
public sealed record UnknownExtension(ModuleExtensionType Type, ModuleExtensionLocation Location, int Offset, ReadOnlyMemory<byte> RawData)
    : ModuleExtension(Type, Location, Offset, RawData);
