using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Describe;

/// <summary>The firmware modules a virtual device reports in its system Describe, as a Device OS gcc build does.</summary>
public static class SimulatedModules
{
    /// <summary>
    /// Bootloader 0, system part 1 (depending on the bootloader) and user part 1 (depending on the system part), all in
    /// the main store with every validity check passed. The system part's size exceeds its maximum by 4 and the user part
    /// carries an all-zero hash until it is received over the air, as live devices report (device-protocol.md 7.11).
    /// <paramref name="isProtected"/> marks the bootloader PROTECTED and sets protected_state (device-protocol.md 5.1).
    /// </summary>
    public static SystemDescribe Create(ushort bootloaderVersion, ushort systemVersion, ushort userModuleVersion, ReadOnlyMemory<byte> userHash = default, bool isProtected = false)
    {
        const uint allChecks = (uint)DescribeValidityFlags.All;
        return new SystemDescribe
        {
            Modules =
            [
                new DescribeModule
                {
                    Type = DescribeModuleType.Bootloader, Index = 0, Version = bootloaderVersion, MaxSize = 64 * 1024, Size = 48 * 1024,
                    CheckedFlags = allChecks, PassedFlags = allChecks,
                    Security = isProtected ? new DescribeModuleSecurity(DescribeSecurityMode.Protected, []) : null,
                },
                new DescribeModule
                {
                    Type = DescribeModuleType.SystemPart, Index = 1, Version = systemVersion, MaxSize = 10 * 1024 * 1024, Size = 10 * 1024 * 1024 + 4,
                    CheckedFlags = allChecks, PassedFlags = allChecks,
                    Dependencies = [new DescribeModuleDependency(DescribeModuleType.Bootloader, 0, bootloaderVersion)],
                },
                new DescribeModule
                {
                    Type = DescribeModuleType.UserPart, Index = 1, Version = userModuleVersion, MaxSize = 128 * 1024, Size = 128 * 1024,
                    CheckedFlags = allChecks, PassedFlags = allChecks,
                    Hash = userHash.IsEmpty ? new byte[32] : userHash.ToArray(),
                    Dependencies = [new DescribeModuleDependency(DescribeModuleType.SystemPart, 1, systemVersion)],
                },
            ],
            ProtectedState = isProtected,
        };
    }
}
