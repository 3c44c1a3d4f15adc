using System.Buffers.Binary;

namespace Bulwark.Firmware.Tests;

/// <summary>Small helpers for building and corrupting modules in unit tests.</summary>
public static class TestModules
{
    public static byte[] Build(ushort platformId = 13, ModuleFunction function = ModuleFunction.UserPart, int prefixOffset = 0,
        int dataSize = 64, IReadOnlyList<byte[]>? suffixExtensions = null, IReadOnlyList<byte[]>? prefixExtensions = null,
        ushort? productId = null, ushort? productVersion = null) =>
        FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = platformId,
            Function = function,
            Index = function == ModuleFunction.Bootloader ? (byte)0 : (byte)1,
            Version = 6,
            PrefixOffset = prefixOffset,
            DataSize = dataSize,
            ProductId = productId,
            ProductVersion = productVersion,
            Dependency1 = function == ModuleFunction.UserPart ? new ModuleDependency(ModuleFunction.SystemPart, 1, 6200) : default,
            SuffixExtensions = suffixExtensions ?? [],
            PrefixExtensions = prefixExtensions ?? [],
        });

    /// <summary>Applies an edit, then makes the end address, SHA-256 and CRC-32 consistent again.</summary>
    public static byte[] EditAndReseal(byte[] module, Action<byte[]> edit, int prefixOffset = 0)
    {
        var copy = module.ToArray();
        edit(copy);
        return Reseal(copy, prefixOffset);
    }

    public static byte[] Reseal(byte[] module, int prefixOffset = 0)
    {
        var start = BinaryPrimitives.ReadUInt32LittleEndian(module.AsSpan(prefixOffset));
        BinaryPrimitives.WriteUInt32LittleEndian(module.AsSpan(prefixOffset + 4), start + (uint)module.Length - 4);
        ModuleChecksums.Update(module);
        return module;
    }

    public static FirmwareError Refusal(byte[] module)
    {
        Assert.False(FirmwareModule.TryParse(module, out _, out var error), "module was accepted");
        return error;
    }

    public static ParsedModule Accept(byte[] module)
    {
        Assert.True(FirmwareModule.TryParse(module, out var parsed, out var error), error?.ToString());
        return parsed;
    }
}
