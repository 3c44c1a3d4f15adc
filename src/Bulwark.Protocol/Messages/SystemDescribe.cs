using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace Bulwark.Protocol.Messages;

/// <summary>Firmware module types (<c>particle.cloud.FirmwareModuleType</c>; the same numbers as <c>module_function_t</c>).</summary>
public enum DescribeModuleType : uint
{
    Invalid = 0,
    Resource = 1,
    Bootloader = 2,
    MonoFirmware = 3,
    SystemPart = 4,
    UserPart = 5,
    Settings = 6,
    NcpFirmware = 7,
    RadioStack = 8,
    Asset = 9,
}

/// <summary>Where a module is stored (<c>particle.cloud.FirmwareModuleStore</c>).</summary>
public enum DescribeModuleStore : uint
{
    Main = 0,
    Factory = 1,
    Backup = 2,
    Scratchpad = 3,
}

/// <summary>Module validation checks (<c>particle.cloud.FirmwareModuleValidityFlag</c>).</summary>
[Flags]
public enum DescribeValidityFlags : uint
{
    None = 0,
    Integrity = 0x02,
    Dependencies = 0x04,
    Range = 0x08,
    Platform = 0x10,
    All = Integrity | Dependencies | Range | Platform,
}

/// <summary>A module's security mode (<c>particle.cloud.FirmwareModuleSecurityMode</c>); PROTECTED on the bootloader
/// means Device Protection (device-protocol.md 5.1).</summary>
public enum DescribeSecurityMode : uint
{
    None = 0,
    Protected = 1,
}

/// <summary>Why a system Describe could not be read.</summary>
public enum SystemDescribeParseError
{
    None = 0,
    /// <summary>Longer than <see cref="SystemDescribe.MaxLength"/>.</summary>
    TooLarge,
    /// <summary>The input ends inside a tag, value or length-delimited field.</summary>
    Truncated,
    /// <summary>A varint longer than 10 bytes or beyond 64 bits.</summary>
    MalformedVarint,
    /// <summary>Field number 0 or beyond the 29-bit range.</summary>
    InvalidTag,
    /// <summary>Wire type 3, 4 (groups), 6 or 7.</summary>
    UnsupportedWireType,
    /// <summary>A known field arrived with another wire type than the schema's.</summary>
    WrongWireType,
    /// <summary>A string or bytes field longer than its bound.</summary>
    FieldTooLarge,
    /// <summary>More repeated entries (modules, dependencies, assets) than the bounds allow.</summary>
    TooManyItems,
    /// <summary>A string field that is not UTF-8.</summary>
    InvalidUtf8,
}

/// <summary>One dependency of a firmware module (<c>particle.cloud.FirmwareModuleDependency</c>).</summary>
public sealed record DescribeModuleDependency(DescribeModuleType Type, uint Index, uint Version);

/// <summary>An asset (<c>particle.cloud.FirmwareModuleAsset</c>).</summary>
public sealed record DescribeModuleAsset(byte[] Hash, string Name, uint Size, uint StorageSize);

/// <summary>A module's security (<c>particle.cloud.FirmwareModuleSecurity</c>).</summary>
public sealed record DescribeModuleSecurity(DescribeSecurityMode Mode, byte[] CertificateFingerprint);

/// <summary>One firmware module as the device reports it (<c>particle.cloud.FirmwareModule</c>).</summary>
public sealed record DescribeModule
{
    public DescribeModuleType Type { get; init; }
    public uint Index { get; init; }
    public uint Version { get; init; }
    public DescribeModuleStore Store { get; init; }
    public uint MaxSize { get; init; }
    /// <summary>Validation checks performed (<see cref="DescribeValidityFlags"/> bits; fixed32 on the wire).</summary>
    public uint CheckedFlags { get; init; }
    /// <summary>Validation checks passed.</summary>
    public uint PassedFlags { get; init; }
    /// <summary>SHA-256 of the module (an all-zero hash on a user part not received over the air); null when absent.</summary>
    public byte[]? Hash { get; init; }
    public IReadOnlyList<DescribeModuleDependency> Dependencies { get; init; } = [];
    public IReadOnlyList<DescribeModuleAsset> AssetDependencies { get; init; } = [];
    /// <summary>Actual size; may exceed <see cref="MaxSize"/> by 4 (device-protocol.md 7.11).</summary>
    public uint Size { get; init; }
    /// <summary>The security sub-message, null when the device did not send one (mode NONE).</summary>
    public DescribeModuleSecurity? Security { get; init; }

    /// <summary>Every check performed also passed.</summary>
    public bool IsValid => (CheckedFlags & ~PassedFlags) == 0;

    public bool IsProtected => Security?.Mode == DescribeSecurityMode.Protected;
}

/// <summary>
/// The system Describe Device OS sends as protobuf (<c>particle.cloud.SystemDescribe</c>, device-os-protobuf 2.9.0
/// <c>cloud/describe.proto</c>; device-protocol.md 1.4, 4.4, 5.1, 7.11), with a hand-written bounded reader and writer.
/// </summary>
/// <remarks>
/// The reader accepts any valid protobuf encoding of the message: fields in any order, explicit zero values, unknown
/// fields (skipped). It never throws on bad input. The writer emits fields in number order and omits proto3 zero
/// scalars, as nanopb does on the device; optional fields (hash, IMEI, ICCID, modem version, env hash) are written
/// whenever they are non-null.
/// </remarks>
public sealed record SystemDescribe
{
    /// <summary>Largest payload read; Device OS sends a few hundred bytes (blockwise above 1 KB).</summary>
    public const int MaxLength = 32 * 1024;
    public const int MaxModules = 32;
    public const int MaxDependencies = 16;
    public const int MaxAssets = 64;
    public const int MaxStringLength = 256;
    public const int MaxBytesLength = 64;

    // SystemDescribe
    private const int FieldModules = 1;
    private const int FieldImei = 2;
    private const int FieldIccid = 3;
    private const int FieldModemFirmwareVersion = 4;
    private const int FieldAssets = 5;
    private const int FieldProtectedState = 6;
    private const int FieldEnvVarsHash = 7;

    // FirmwareModule (FirmwareModuleDependency uses 1-3 alike)
    private const int FieldType = 1;
    private const int FieldIndex = 2;
    private const int FieldVersion = 3;
    private const int FieldStore = 4;
    private const int FieldMaxSize = 5;
    private const int FieldCheckedFlags = 6;
    private const int FieldPassedFlags = 7;
    private const int FieldHash = 8;
    private const int FieldDependencies = 9;
    private const int FieldAssetDependencies = 10;
    private const int FieldSize = 11;
    private const int FieldSecurity = 12;

    // FirmwareModuleAsset
    private const int FieldAssetHash = 1;
    private const int FieldAssetName = 2;
    private const int FieldAssetSize = 3;
    private const int FieldAssetStorageSize = 4;

    // FirmwareModuleSecurity
    private const int FieldSecurityMode = 1;
    private const int FieldSecurityFingerprint = 2;

    public IReadOnlyList<DescribeModule> Modules { get; init; } = [];
    /// <summary>IMEI (cellular platforms only).</summary>
    public string? Imei { get; init; }
    /// <summary>ICCID (cellular platforms only).</summary>
    public string? Iccid { get; init; }
    public string? ModemFirmwareVersion { get; init; }
    /// <summary>Valid assets present in device storage.</summary>
    public IReadOnlyList<DescribeModuleAsset> Assets { get; init; } = [];
    /// <summary>Device Protection is on; stays true while Service Mode overrides it (device-protocol.md 5.1).</summary>
    public bool ProtectedState { get; init; }
    /// <summary>Env vars snapshot hash (at most 32 bytes on the device).</summary>
    public byte[]? EnvVarsHash { get; init; }

    /// <summary>Parses a system Describe; never throws, bounded in time and memory by the input length and the Max* limits.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, [NotNullWhen(true)] out SystemDescribe? describe, out SystemDescribeParseError error)
    {
        describe = null;
        if (payload.Length > MaxLength)
        {
            error = SystemDescribeParseError.TooLarge;
            return false;
        }

        var modules = new List<DescribeModule>();
        var assets = new List<DescribeModuleAsset>();
        string? imei = null, iccid = null, modem = null;
        bool protectedState = false;
        byte[]? envHash = null;
        var reader = new ProtobufReader(payload);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out int field, out int wireType, out error))
            {
                return false;
            }

            switch (field)
            {
                case FieldModules:
                    if (!reader.TryReadMessage(wireType, out ReadOnlySpan<byte> moduleBytes, out error)
                        || !TryParseModule(moduleBytes, out DescribeModule? module, out error))
                    {
                        return false;
                    }

                    if (modules.Count == MaxModules)
                    {
                        error = SystemDescribeParseError.TooManyItems;
                        return false;
                    }

                    modules.Add(module);
                    break;
                case FieldImei:
                    if (!reader.TryReadString(wireType, out imei, out error))
                    {
                        return false;
                    }

                    break;
                case FieldIccid:
                    if (!reader.TryReadString(wireType, out iccid, out error))
                    {
                        return false;
                    }

                    break;
                case FieldModemFirmwareVersion:
                    if (!reader.TryReadString(wireType, out modem, out error))
                    {
                        return false;
                    }

                    break;
                case FieldAssets:
                    if (!reader.TryReadMessage(wireType, out ReadOnlySpan<byte> assetBytes, out error)
                        || !TryParseAsset(assetBytes, out DescribeModuleAsset? asset, out error))
                    {
                        return false;
                    }

                    if (assets.Count == MaxAssets)
                    {
                        error = SystemDescribeParseError.TooManyItems;
                        return false;
                    }

                    assets.Add(asset);
                    break;
                case FieldProtectedState:
                    if (!reader.TryReadUInt64(wireType, out ulong flag, out error))
                    {
                        return false;
                    }

                    protectedState = flag != 0;
                    break;
                case FieldEnvVarsHash:
                    if (!reader.TryReadBytes(wireType, out envHash, out error))
                    {
                        return false;
                    }

                    break;
                default:
                    if (!reader.TrySkip(wireType, out error))
                    {
                        return false;
                    }

                    break;
            }
        }

        describe = new SystemDescribe
        {
            Modules = modules,
            Imei = imei,
            Iccid = iccid,
            ModemFirmwareVersion = modem,
            Assets = assets,
            ProtectedState = protectedState,
            EnvVarsHash = envHash,
        };
        error = SystemDescribeParseError.None;
        return true;
    }

    /// <summary>The protobuf bytes, as Device OS's nanopb encoder writes them.</summary>
    public byte[] ToArray()
    {
        var writer = new ProtobufWriter();
        foreach (DescribeModule module in Modules)
        {
            writer.WriteMessage(FieldModules, WriteModule(module));
        }

        writer.WriteOptionalString(FieldImei, Imei);
        writer.WriteOptionalString(FieldIccid, Iccid);
        writer.WriteOptionalString(FieldModemFirmwareVersion, ModemFirmwareVersion);
        foreach (DescribeModuleAsset asset in Assets)
        {
            writer.WriteMessage(FieldAssets, WriteAsset(asset));
        }

        writer.WriteUInt64(FieldProtectedState, ProtectedState ? 1u : 0u);
        writer.WriteOptionalBytes(FieldEnvVarsHash, EnvVarsHash);
        return writer.ToArray();
    }

    /// <summary>
    /// The modules in the Describe JSON form Device OS's <c>--describe</c> and binary-version-reader use
    /// (device-protocol.md 4.4): <c>[{"f":"s","n":"1","v":6200,"s":size,"l":"m","vc":30,"vv":30,"d":[{"f","n","v"}],"u":"hash"}]</c>.
    /// A protected module adds <c>"security":"protected"</c> (any other non-NONE mode is written as its number).
    /// </summary>
    public string ToModulesJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (DescribeModule module in Modules)
            {
                json.WriteStartObject();
                json.WriteString("f", TypeLetter(module.Type));
                json.WriteString("n", module.Index.ToString(System.Globalization.CultureInfo.InvariantCulture));
                json.WriteNumber("v", module.Version);
                json.WriteNumber("s", module.Size);
                json.WriteString("l", StoreLetter(module.Store));
                json.WriteNumber("vc", module.CheckedFlags);
                json.WriteNumber("vv", module.PassedFlags);
                json.WriteStartArray("d");
                foreach (DescribeModuleDependency dependency in module.Dependencies)
                {
                    json.WriteStartObject();
                    json.WriteString("f", TypeLetter(dependency.Type));
                    json.WriteString("n", dependency.Index.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    json.WriteNumber("v", dependency.Version);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                if (module.Hash is { } hash)
                {
                    json.WriteString("u", Convert.ToHexStringLower(hash));
                }

                switch (module.Security?.Mode)
                {
                    case null or DescribeSecurityMode.None:
                        break;
                    case DescribeSecurityMode.Protected:
                        json.WriteString("security", "protected");
                        break;
                    case { } mode:
                        json.WriteNumber("security", (uint)mode);
                        break;
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>The Describe letter of a module type (<c>n r b m s u _ c a t</c>), "?" beyond the known ten.</summary>
    public static string TypeLetter(DescribeModuleType type) => (uint)type < 10 ? "nrbmsu_cat"[(int)type].ToString() : "?";

    private static string StoreLetter(DescribeModuleStore store) => store switch
    {
        DescribeModuleStore.Main => "m",
        DescribeModuleStore.Factory => "f",
        DescribeModuleStore.Backup => "b",
        DescribeModuleStore.Scratchpad => "t",
        _ => "?",
    };

    private static bool TryParseModule(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out DescribeModule? module, out SystemDescribeParseError error)
    {
        module = null;
        uint type = 0, index = 0, version = 0, store = 0, maxSize = 0, checkedFlags = 0, passedFlags = 0, size = 0;
        byte[]? hash = null;
        DescribeModuleSecurity? security = null;
        var dependencies = new List<DescribeModuleDependency>();
        var assetDependencies = new List<DescribeModuleAsset>();
        var reader = new ProtobufReader(bytes);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out int field, out int wireType, out error))
            {
                return false;
            }

            bool ok;
            switch (field)
            {
                case FieldType:
                    ok = reader.TryReadUInt32(wireType, out type, out error);
                    break;
                case FieldIndex:
                    ok = reader.TryReadUInt32(wireType, out index, out error);
                    break;
                case FieldVersion:
                    ok = reader.TryReadUInt32(wireType, out version, out error);
                    break;
                case FieldStore:
                    ok = reader.TryReadUInt32(wireType, out store, out error);
                    break;
                case FieldMaxSize:
                    ok = reader.TryReadUInt32(wireType, out maxSize, out error);
                    break;
                case FieldCheckedFlags:
                    ok = reader.TryReadFixed32(wireType, out checkedFlags, out error);
                    break;
                case FieldPassedFlags:
                    ok = reader.TryReadFixed32(wireType, out passedFlags, out error);
                    break;
                case FieldHash:
                    ok = reader.TryReadBytes(wireType, out hash, out error);
                    break;
                case FieldDependencies:
                    ok = reader.TryReadMessage(wireType, out ReadOnlySpan<byte> dependencyBytes, out error)
                        && TryParseDependency(dependencyBytes, out DescribeModuleDependency? dependency, out error)
                        && TryAdd(dependencies, dependency, MaxDependencies, out error);
                    break;
                case FieldAssetDependencies:
                    ok = reader.TryReadMessage(wireType, out ReadOnlySpan<byte> assetBytes, out error)
                        && TryParseAsset(assetBytes, out DescribeModuleAsset? asset, out error)
                        && TryAdd(assetDependencies, asset, MaxDependencies, out error);
                    break;
                case FieldSize:
                    ok = reader.TryReadUInt32(wireType, out size, out error);
                    break;
                case FieldSecurity:
                    ok = reader.TryReadMessage(wireType, out ReadOnlySpan<byte> securityBytes, out error)
                        && TryParseSecurity(securityBytes, out security, out error);
                    break;
                default:
                    ok = reader.TrySkip(wireType, out error);
                    break;
            }

            if (!ok)
            {
                return false;
            }
        }

        module = new DescribeModule
        {
            Type = (DescribeModuleType)type,
            Index = index,
            Version = version,
            Store = (DescribeModuleStore)store,
            MaxSize = maxSize,
            CheckedFlags = checkedFlags,
            PassedFlags = passedFlags,
            Hash = hash,
            Dependencies = dependencies,
            AssetDependencies = assetDependencies,
            Size = size,
            Security = security,
        };
        error = SystemDescribeParseError.None;
        return true;
    }

    private static bool TryAdd<T>(List<T> list, T item, int max, out SystemDescribeParseError error)
    {
        if (list.Count >= max)
        {
            error = SystemDescribeParseError.TooManyItems;
            return false;
        }

        list.Add(item);
        error = SystemDescribeParseError.None;
        return true;
    }

    private static bool TryParseDependency(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out DescribeModuleDependency? dependency, out SystemDescribeParseError error)
    {
        dependency = null;
        uint type = 0, index = 0, version = 0;
        var reader = new ProtobufReader(bytes);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out int field, out int wireType, out error))
            {
                return false;
            }

            bool ok = field switch
            {
                FieldType => reader.TryReadUInt32(wireType, out type, out error),
                FieldIndex => reader.TryReadUInt32(wireType, out index, out error),
                FieldVersion => reader.TryReadUInt32(wireType, out version, out error),
                _ => reader.TrySkip(wireType, out error),
            };
            if (!ok)
            {
                return false;
            }
        }

        dependency = new DescribeModuleDependency((DescribeModuleType)type, index, version);
        error = SystemDescribeParseError.None;
        return true;
    }

    private static bool TryParseAsset(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out DescribeModuleAsset? asset, out SystemDescribeParseError error)
    {
        asset = null;
        byte[]? hash = null;
        string? name = null;
        uint size = 0, storageSize = 0;
        var reader = new ProtobufReader(bytes);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out int field, out int wireType, out error))
            {
                return false;
            }

            bool ok = field switch
            {
                FieldAssetHash => reader.TryReadBytes(wireType, out hash, out error),
                FieldAssetName => reader.TryReadString(wireType, out name, out error),
                FieldAssetSize => reader.TryReadUInt32(wireType, out size, out error),
                FieldAssetStorageSize => reader.TryReadUInt32(wireType, out storageSize, out error),
                _ => reader.TrySkip(wireType, out error),
            };
            if (!ok)
            {
                return false;
            }
        }

        asset = new DescribeModuleAsset(hash ?? [], name ?? string.Empty, size, storageSize);
        error = SystemDescribeParseError.None;
        return true;
    }

    private static bool TryParseSecurity(ReadOnlySpan<byte> bytes, out DescribeModuleSecurity? security, out SystemDescribeParseError error)
    {
        security = null;
        uint mode = 0;
        byte[]? fingerprint = null;
        var reader = new ProtobufReader(bytes);
        while (!reader.End)
        {
            if (!reader.TryReadTag(out int field, out int wireType, out error))
            {
                return false;
            }

            bool ok = field switch
            {
                FieldSecurityMode => reader.TryReadUInt32(wireType, out mode, out error),
                FieldSecurityFingerprint => reader.TryReadBytes(wireType, out fingerprint, out error),
                _ => reader.TrySkip(wireType, out error),
            };
            if (!ok)
            {
                return false;
            }
        }

        security = new DescribeModuleSecurity((DescribeSecurityMode)mode, fingerprint ?? []);
        error = SystemDescribeParseError.None;
        return true;
    }

    private static byte[] WriteModule(DescribeModule module)
    {
        var writer = new ProtobufWriter();
        writer.WriteUInt64(FieldType, (uint)module.Type);
        writer.WriteUInt64(FieldIndex, module.Index);
        writer.WriteUInt64(FieldVersion, module.Version);
        writer.WriteUInt64(FieldStore, (uint)module.Store);
        writer.WriteUInt64(FieldMaxSize, module.MaxSize);
        writer.WriteFixed32(FieldCheckedFlags, module.CheckedFlags);
        writer.WriteFixed32(FieldPassedFlags, module.PassedFlags);
        writer.WriteOptionalBytes(FieldHash, module.Hash);
        foreach (DescribeModuleDependency dependency in module.Dependencies)
        {
            var inner = new ProtobufWriter();
            inner.WriteUInt64(FieldType, (uint)dependency.Type);
            inner.WriteUInt64(FieldIndex, dependency.Index);
            inner.WriteUInt64(FieldVersion, dependency.Version);
            writer.WriteMessage(FieldDependencies, inner.ToArray());
        }

        foreach (DescribeModuleAsset asset in module.AssetDependencies)
        {
            writer.WriteMessage(FieldAssetDependencies, WriteAsset(asset));
        }

        writer.WriteUInt64(FieldSize, module.Size);
        if (module.Security is { } security)
        {
            var inner = new ProtobufWriter();
            inner.WriteUInt64(FieldSecurityMode, (uint)security.Mode);
            if (security.CertificateFingerprint.Length > 0)
            {
                inner.WriteOptionalBytes(FieldSecurityFingerprint, security.CertificateFingerprint);
            }

            writer.WriteMessage(FieldSecurity, inner.ToArray());
        }

        return writer.ToArray();
    }

    private static byte[] WriteAsset(DescribeModuleAsset asset)
    {
        var writer = new ProtobufWriter();
        if (asset.Hash.Length > 0)
        {
            writer.WriteOptionalBytes(FieldAssetHash, asset.Hash);
        }

        if (asset.Name.Length > 0)
        {
            writer.WriteOptionalString(FieldAssetName, asset.Name);
        }

        writer.WriteUInt64(FieldAssetSize, asset.Size);
        writer.WriteUInt64(FieldAssetStorageSize, asset.StorageSize);
        return writer.ToArray();
    }

    internal static bool IsValidUtf8(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);

    internal static string DecodeUtf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}

/// <summary>Protobuf wire types (the low three bits of a tag).</summary>
internal static class ProtobufWireType
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int Fixed32 = 5;
}

/// <summary>A bounded protobuf reader over a span: every read checks the remaining length; nothing throws.</summary>
internal ref struct ProtobufReader(ReadOnlySpan<byte> data)
{
    private const int MaxFieldNumber = (1 << 29) - 1;
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool End => _position >= _data.Length;

    public bool TryReadTag(out int field, out int wireType, out SystemDescribeParseError error)
    {
        field = 0;
        wireType = 0;
        if (!TryReadVarint(out ulong tag, out error))
        {
            return false;
        }

        ulong number = tag >> 3;
        if (number == 0 || number > MaxFieldNumber)
        {
            error = SystemDescribeParseError.InvalidTag;
            return false;
        }

        field = (int)number;
        wireType = (int)(tag & 7);
        if (wireType is not (ProtobufWireType.Varint or ProtobufWireType.Fixed64 or ProtobufWireType.LengthDelimited or ProtobufWireType.Fixed32))
        {
            error = SystemDescribeParseError.UnsupportedWireType;
            return false;
        }

        return true;
    }

    public bool TryReadVarint(out ulong value, out SystemDescribeParseError error)
    {
        value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _data.Length)
            {
                error = SystemDescribeParseError.Truncated;
                return false;
            }

            byte b = _data[_position++];
            // The tenth byte holds only bit 63.
            if (shift == 63 && b > 1)
            {
                error = SystemDescribeParseError.MalformedVarint;
                return false;
            }

            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                error = SystemDescribeParseError.None;
                return true;
            }
        }

        error = SystemDescribeParseError.MalformedVarint;
        return false;
    }

    /// <summary>A varint field (uint64, bool, enum).</summary>
    public bool TryReadUInt64(int wireType, out ulong value, out SystemDescribeParseError error)
    {
        value = 0;
        return Expect(wireType, ProtobufWireType.Varint, out error) && TryReadVarint(out value, out error);
    }

    /// <summary>A uint32 or enum field: a varint truncated to 32 bits, as protobuf specifies.</summary>
    public bool TryReadUInt32(int wireType, out uint value, out SystemDescribeParseError error)
    {
        bool ok = TryReadUInt64(wireType, out ulong wide, out error);
        value = (uint)wide;
        return ok;
    }

    public bool TryReadFixed32(int wireType, out uint value, out SystemDescribeParseError error)
    {
        value = 0;
        if (!Expect(wireType, ProtobufWireType.Fixed32, out error))
        {
            return false;
        }

        if (_data.Length - _position < 4)
        {
            error = SystemDescribeParseError.Truncated;
            return false;
        }

        value = BinaryPrimitives.ReadUInt32LittleEndian(_data[_position..]);
        _position += 4;
        return true;
    }

    /// <summary>A length-delimited field's bytes, bounded by the rest of the input.</summary>
    public bool TryReadMessage(int wireType, out ReadOnlySpan<byte> bytes, out SystemDescribeParseError error)
    {
        bytes = default;
        return Expect(wireType, ProtobufWireType.LengthDelimited, out error) && TryReadLengthDelimited(out bytes, out error);
    }

    public bool TryReadBytes(int wireType, out byte[]? value, out SystemDescribeParseError error)
    {
        value = null;
        if (!TryReadMessage(wireType, out ReadOnlySpan<byte> bytes, out error))
        {
            return false;
        }

        if (bytes.Length > SystemDescribe.MaxBytesLength)
        {
            error = SystemDescribeParseError.FieldTooLarge;
            return false;
        }

        value = bytes.ToArray();
        return true;
    }

    public bool TryReadString(int wireType, out string? value, out SystemDescribeParseError error)
    {
        value = null;
        if (!TryReadMessage(wireType, out ReadOnlySpan<byte> bytes, out error))
        {
            return false;
        }

        if (bytes.Length > SystemDescribe.MaxStringLength)
        {
            error = SystemDescribeParseError.FieldTooLarge;
            return false;
        }

        if (!SystemDescribe.IsValidUtf8(bytes))
        {
            error = SystemDescribeParseError.InvalidUtf8;
            return false;
        }

        value = SystemDescribe.DecodeUtf8(bytes);
        return true;
    }

    /// <summary>Skips an unknown field of any supported wire type.</summary>
    public bool TrySkip(int wireType, out SystemDescribeParseError error)
    {
        switch (wireType)
        {
            case ProtobufWireType.Varint:
                return TryReadVarint(out _, out error);
            case ProtobufWireType.Fixed64:
                return TryAdvance(8, out error);
            case ProtobufWireType.Fixed32:
                return TryAdvance(4, out error);
            case ProtobufWireType.LengthDelimited:
                return TryReadLengthDelimited(out _, out error);
            default:
                error = SystemDescribeParseError.UnsupportedWireType;
                return false;
        }
    }

    private bool TryReadLengthDelimited(out ReadOnlySpan<byte> bytes, out SystemDescribeParseError error)
    {
        bytes = default;
        if (!TryReadVarint(out ulong length, out error))
        {
            return false;
        }

        if (length > (ulong)(_data.Length - _position))
        {
            error = SystemDescribeParseError.Truncated;
            return false;
        }

        bytes = _data.Slice(_position, (int)length);
        _position += (int)length;
        return true;
    }

    private bool TryAdvance(int count, out SystemDescribeParseError error)
    {
        if (_data.Length - _position < count)
        {
            error = SystemDescribeParseError.Truncated;
            return false;
        }

        _position += count;
        error = SystemDescribeParseError.None;
        return true;
    }

    private static bool Expect(int actual, int expected, out SystemDescribeParseError error)
    {
        error = actual == expected ? SystemDescribeParseError.None : SystemDescribeParseError.WrongWireType;
        return actual == expected;
    }
}

/// <summary>A minimal protobuf writer: proto3 scalars are omitted when zero; nested messages are written whole.</summary>
internal sealed class ProtobufWriter
{
    private readonly List<byte> _buffer = new(64);

    public void WriteUInt64(int field, ulong value)
    {
        if (value == 0)
        {
            return;
        }

        WriteTag(field, ProtobufWireType.Varint);
        WriteVarint(value);
    }

    public void WriteFixed32(int field, uint value)
    {
        if (value == 0)
        {
            return;
        }

        WriteTag(field, ProtobufWireType.Fixed32);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        _buffer.AddRange(bytes);
    }

    /// <summary>A length-delimited field, written even when empty (explicit presence, repeated entries, messages).</summary>
    public void WriteLengthDelimited(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, ProtobufWireType.LengthDelimited);
        WriteVarint((ulong)value.Length);
        _buffer.AddRange(value);
    }

    public void WriteOptionalBytes(int field, byte[]? value)
    {
        if (value is not null)
        {
            WriteLengthDelimited(field, value);
        }
    }

    public void WriteOptionalString(int field, string? value)
    {
        if (value is not null)
        {
            WriteLengthDelimited(field, Encoding.UTF8.GetBytes(value));
        }
    }

    public void WriteMessage(int field, byte[] body) => WriteLengthDelimited(field, body);

    public byte[] ToArray() => [.. _buffer];

    private void WriteTag(int field, int wireType) => WriteVarint((ulong)((uint)field << 3 | (uint)wireType));

    private void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.Add((byte)(value | 0x80));
            value >>= 7;
        }

        _buffer.Add((byte)value);
    }
}
