using Bulwark.Firmware;

namespace Bulwark.DeviceSim.Describe;

/// <summary>One firmware module as the device reports it in its system Describe.</summary>
public sealed record DescribedModule(
    ModuleFunction Function,
    byte Index,
    ushort Version,
    uint MaxSize,
    uint Size,
    IReadOnlyList<ModuleDependency> Dependencies,
    ReadOnlyMemory<byte> Hash = default)
{
    /// <summary>Integrity, dependencies, range and platform all checked and passed (FirmwareModuleValidityFlag).</summary>
    public const uint AllValidityFlags = 0x02 | 0x04 | 0x08 | 0x10;

    /// <summary>The modules of a Device OS gcc build: system part 1 at the given version, user part 1 depending on it.</summary>
    public static IReadOnlyList<DescribedModule> DefaultSet(ushort systemVersion, ushort userModuleVersion, ReadOnlyMemory<byte> userHash = default) =>
    [
        new(ModuleFunction.SystemPart, 1, systemVersion, 10 * 1024 * 1024, 10 * 1024 * 1024, []),
        // Device OS reports an all-zero hash for a user part it did not receive over the air (device-protocol.md 7.11).
        new(ModuleFunction.UserPart, 1, userModuleVersion, 128 * 1024, 128 * 1024,
            [new ModuleDependency(ModuleFunction.SystemPart, 1, systemVersion)],
            userHash.IsEmpty ? new byte[32] : userHash),
    ];
}
