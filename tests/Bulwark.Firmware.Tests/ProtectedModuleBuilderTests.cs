using System.Buffers.Binary;
using static Bulwark.Firmware.Tests.TestModules;

namespace Bulwark.Firmware.Tests;

public sealed class ProtectedModuleBuilderTests
{
    [Fact]
    public void Protecting_a_bootloader_grows_the_suffix_from_40_to_49_bytes()
    {
        var bootloader = Build(function: ModuleFunction.Bootloader, prefixOffset: 0x200, productId: 321, productVersion: 4);

        Assert.True(ProtectedModuleBuilder.TryProtect(bootloader, out var protectedBootloader, out var error), error?.ToString());

        var module = Accept(protectedBootloader);
        Assert.Equal(bootloader.Length + 9, protectedBootloader.Length);
        Assert.Equal(49, module.SuffixSize);
        Assert.Equal([(ModuleExtensionType.SecurityMode, 5), (ModuleExtensionType.End, 4)], module.SuffixExtensions.Select(e => (e.Type, e.Length)));
        Assert.True(module.EnablesDeviceProtection);
        Assert.Equal(((ushort)321, (ushort)4), (module.ProductId, module.ProductVersion));
        Assert.Equal(0x200, module.PrefixOffset);
        // Everything before the old suffix is untouched apart from the end address.
        var original = Accept(bootloader);
        Assert.Equal(original.EndAddress + 9, module.EndAddress);
        Assert.True(bootloader.AsSpan(0x208, bootloader.Length - 44 - 0x208).SequenceEqual(protectedBootloader.AsSpan(0x208, bootloader.Length - 44 - 0x208)));
    }

    [Fact]
    public void Protecting_twice_equals_protecting_once()
    {
        var bootloader = Build(function: ModuleFunction.Bootloader);
        Assert.True(ProtectedModuleBuilder.TryProtect(bootloader, out var once, out _));
        Assert.True(ProtectedModuleBuilder.TryProtect(once, out var twice, out _));
        Assert.Equal(once, twice);
    }

    [Fact]
    public void Setting_mode_none_replaces_protected()
    {
        var bootloader = Build(function: ModuleFunction.Bootloader);
        Assert.True(ProtectedModuleBuilder.TryProtect(bootloader, [1, 2, 3], out var protectedBootloader, out _));
        Assert.Equal([1, 2, 3], Accept(protectedBootloader).SecurityModeExtension!.Certificate.ToArray());

        Assert.True(ProtectedModuleBuilder.TrySetSecurityMode(protectedBootloader, SecurityMode.None, default, out var unprotected, out _));
        var module = Accept(unprotected);
        Assert.Equal(SecurityMode.None, module.SecurityMode);
        Assert.False(module.EnablesDeviceProtection);
        Assert.Single(module.SuffixExtensions.OfType<SecurityModeExtension>());
    }

    [Fact]
    public void Keeps_existing_suffix_extensions_and_product_data_last()
    {
        var userPart = Build(platformId: 13, suffixExtensions:
            [ModuleExtensionEncoder.Name("app"), ModuleExtensionEncoder.ProductData(20000, 42)]);
        Assert.True(ProtectedModuleBuilder.TryProtect(userPart, out var output, out _));
        var module = Accept(output);
        Assert.Equal(
            [ModuleExtensionType.SecurityMode, ModuleExtensionType.Name, ModuleExtensionType.ProductData],
            module.SuffixExtensions.Select(e => e.Type));
        Assert.Equal(((ushort)20000, (ushort)42), (module.ProductId, module.ProductVersion));
    }

    [Fact]
    public void Grows_the_prefix_of_a_p2_user_part_and_moves_its_start_address()
    {
        var userPart = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = 32,
            Function = ModuleFunction.UserPart,
            StartAddress = 0x085F0003,
            DataSize = 40,
            PrefixExtensions = [ModuleExtensionEncoder.Name("app")],
            SuffixExtensions = [ModuleExtensionEncoder.DynamicLocation(0x085F0003, 0x2003F000, 0x085F0040), ModuleExtensionEncoder.End()],
        });

        Assert.True(ProtectedModuleBuilder.TryProtect(userPart, out var output, out var error), error?.ToString());

        var module = Accept(output);
        var original = Accept(userPart);
        Assert.Equal(original.EndAddress, module.EndAddress);
        Assert.Equal(0u, module.StartAddress % 8);
        Assert.Equal([ModuleExtensionType.Name, ModuleExtensionType.SecurityMode, ModuleExtensionType.End], module.PrefixExtensions.Select(e => e.Type));
        Assert.True(module.IsProtected);
        Assert.Equal(module.StartAddress, module.SuffixExtensions.OfType<DynamicLocationExtension>().Single().ModuleStartAddress);
    }

    [Fact]
    public void Refuses_what_the_package_refuses_and_invalid_input()
    {
        FirmwareErrorReason ReasonFor(byte[] module)
        {
            Assert.False(ProtectedModuleBuilder.TryProtect(module, out _, out var error));
            return error.Reason;
        }

        Assert.Equal(FirmwareErrorReason.UnsupportedModification, ReasonFor(Build(platformId: 32, prefixOffset: 0x200)));
        Assert.Equal(FirmwareErrorReason.UnsupportedModification, ReasonFor(EditAndReseal(Build(), m => m[9] = (byte)ModuleFlags.Compressed)));
        var legacy = Build();
        legacy = Reseal([.. legacy[..^44], .. legacy[^40..]]);
        BinaryPrimitives.WriteUInt16LittleEndian(legacy.AsSpan(legacy.Length - 6), 36);
        Assert.Equal(FirmwareErrorReason.UnsupportedModification, ReasonFor(Reseal(legacy)));

        var corrupt = Build(function: ModuleFunction.Bootloader);
        corrupt[30] ^= 1;
        Assert.Equal(FirmwareErrorReason.CrcMismatch, ReasonFor(corrupt));
    }

    [Fact]
    public void Refuses_to_push_a_user_part_over_the_platform_limit()
    {
        var nearLimit = Build(platformId: 6, dataSize: 131072 - ModuleLayout.PrefixSize - 44);
        Assert.Equal(131072, nearLimit.Length);
        Assert.False(ProtectedModuleBuilder.TryProtect(nearLimit, out _, out var error));
        Assert.Equal(FirmwareErrorReason.UnsupportedModification, error.Reason);
    }
}

public sealed class ProtectedModuleBuilderRegressionTests
{
    // Found by the fuzzer (seed 20250101): a suffix SECURITY_MODE plus the prefix-extensions flag made the builder
    // add a second SECURITY_MODE in the prefix, which the parser then refused as ambiguous.
    [Fact]
    public void Refuses_when_security_mode_sits_in_the_area_it_does_not_extend()
    {
        var module = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = 6,
            Function = ModuleFunction.Bootloader,
            PrefixExtensions = [ModuleExtensionEncoder.Name("boot")],
            SuffixExtensions = [ModuleExtensionEncoder.SecurityMode(SecurityMode.Protected), ModuleExtensionEncoder.End()],
        });
        Assert.True(FirmwareModule.TryParse(module, out _, out _));

        Assert.False(ProtectedModuleBuilder.TryProtect(module, out _, out var error));
        Assert.Equal(FirmwareErrorReason.UnsupportedModification, error.Reason);
    }
}

public sealed class ProtectedModuleBuilderStartAddressRegressionTests
{
    // Found by the fuzzer (seed 20250101, iteration 835706): a P2 user part starting at address 0 made the
    // prefix growth compute a negative padding and throw OverflowException.
    [Fact]
    public void Refuses_to_move_the_start_address_below_zero()
    {
        var module = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = 32,
            Function = ModuleFunction.UserPart,
            StartAddress = 0,
            DataSize = 16,
            PrefixExtensions = [ModuleExtensionEncoder.Name("app")],
        });
        Assert.True(FirmwareModule.TryParse(module, out _, out _));

        Assert.False(ProtectedModuleBuilder.TryProtect(module, out _, out var error));
        Assert.Equal(FirmwareErrorReason.UnsupportedModification, error.Reason);
        Assert.Contains("below zero", error.Message);
    }
}
