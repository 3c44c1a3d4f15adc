using System.Buffers.Binary;

namespace Bulwark.DeviceSim.Describe;

/// <summary>
/// Writes <c>particle.cloud.SystemDescribe</c> (device-os-protobuf <c>cloud/describe.proto</c>) by hand, field for field as
/// Device OS's nanopb encoder does (<c>system_module_info_pb</c>): zero-valued scalars are omitted (proto3), the flags
/// are fixed32.
/// </summary>
public static class SystemDescribeEncoder
{
    // SystemDescribe
    private const int FirmwareModulesField = 1;
    private const int ImeiField = 2;
    private const int IccidField = 3;
    private const int ProtectedStateField = 6;

    // FirmwareModule
    private const int TypeField = 1;
    private const int IndexField = 2;
    private const int VersionField = 3;
    private const int StoreField = 4;
    private const int MaxSizeField = 5;
    private const int CheckedFlagsField = 6;
    private const int PassedFlagsField = 7;
    private const int HashField = 8;
    private const int DependenciesField = 9;
    private const int SizeField = 11;

    private const int WireVarint = 0;
    private const int WireFixed32 = 5;
    private const int WireLengthDelimited = 2;

    /// <summary>The protobuf bytes for the given modules (store MAIN, all validity checks passed).</summary>
    public static byte[] Encode(IEnumerable<DescribedModule> modules, string? imei = null, string? iccid = null, bool protectedState = false)
    {
        ArgumentNullException.ThrowIfNull(modules);
        var output = new List<byte>(256);
        foreach (DescribedModule module in modules)
        {
            WriteMessage(output, FirmwareModulesField, EncodeModule(module));
        }

        if (!string.IsNullOrEmpty(imei))
        {
            WriteMessage(output, ImeiField, System.Text.Encoding.UTF8.GetBytes(imei));
        }

        if (!string.IsNullOrEmpty(iccid))
        {
            WriteMessage(output, IccidField, System.Text.Encoding.UTF8.GetBytes(iccid));
        }

        if (protectedState)
        {
            WriteVarintField(output, ProtectedStateField, 1);
        }

        return output.ToArray();
    }

    private static byte[] EncodeModule(DescribedModule module)
    {
        var output = new List<byte>(96);
        WriteVarintField(output, TypeField, (byte)module.Function);
        WriteVarintField(output, IndexField, module.Index);
        WriteVarintField(output, VersionField, module.Version);
        WriteVarintField(output, StoreField, 0);
        WriteVarintField(output, MaxSizeField, module.MaxSize);
        WriteFixed32Field(output, CheckedFlagsField, DescribedModule.AllValidityFlags);
        WriteFixed32Field(output, PassedFlagsField, DescribedModule.AllValidityFlags);
        if (!module.Hash.IsEmpty)
        {
            WriteMessage(output, HashField, module.Hash.ToArray());
        }

        foreach (var dependency in module.Dependencies)
        {
            var encoded = new List<byte>(12);
            WriteVarintField(encoded, TypeField, (byte)dependency.Function);
            WriteVarintField(encoded, IndexField, dependency.Index);
            WriteVarintField(encoded, VersionField, dependency.Version);
            WriteMessage(output, DependenciesField, encoded.ToArray());
        }

        WriteVarintField(output, SizeField, module.Size);
        return output.ToArray();
    }

    private static void WriteVarintField(List<byte> output, int field, uint value)
    {
        if (value == 0)
        {
            return;
        }

        WriteVarint(output, (uint)(field << 3 | WireVarint));
        WriteVarint(output, value);
    }

    private static void WriteFixed32Field(List<byte> output, int field, uint value)
    {
        if (value == 0)
        {
            return;
        }

        WriteVarint(output, (uint)(field << 3 | WireFixed32));
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        output.AddRange(bytes);
    }

    private static void WriteMessage(List<byte> output, int field, byte[] body)
    {
        WriteVarint(output, (uint)(field << 3 | WireLengthDelimited));
        WriteVarint(output, (uint)body.Length);
        output.AddRange(body);
    }

    private static void WriteVarint(List<byte> output, uint value)
    {
        while (value >= 0x80)
        {
            output.Add((byte)(value | 0x80));
            value >>= 7;
        }

        output.Add((byte)value);
    }
}
