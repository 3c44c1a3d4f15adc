using System.Buffers.Binary;
using System.Text;
using static Bulwark.Firmware.Tests.TestModules;

namespace Bulwark.Firmware.Tests;

public sealed class FirmwareModuleTests
{
    [Fact]
    public void Crc32_matches_the_zlib_check_value() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute(Encoding.ASCII.GetBytes("123456789")));

    [Theory]
    [InlineData(ModuleFunction.Resource)]
    [InlineData(ModuleFunction.Bootloader)]
    [InlineData(ModuleFunction.MonoFirmware)]
    [InlineData(ModuleFunction.SystemPart)]
    [InlineData(ModuleFunction.UserPart)]
    [InlineData(ModuleFunction.Settings)]
    [InlineData(ModuleFunction.NcpFirmware)]
    [InlineData(ModuleFunction.RadioStack)]
    [InlineData(ModuleFunction.Asset)]
    public void Reports_every_prefix_and_suffix_field(ModuleFunction function)
    {
        var module = Accept(Build(platformId: 12, function: function, productId: 1234, productVersion: 5));

        Assert.Equal((ushort)12, module.PlatformId);
        Assert.Equal(function, module.Function);
        Assert.Equal((ushort)6, module.Version);
        Assert.Equal((ushort)1234, module.ProductId);
        Assert.Equal((ushort)5, module.ProductVersion);
        Assert.Equal(0, module.PrefixOffset);
        Assert.Equal(ModuleLayout.LegacyProductSuffixSize, module.SuffixSize);
        Assert.Equal(0x08000000u, module.StartAddress);
        Assert.Equal(module.StartAddress + (uint)module.Length - 4, module.EndAddress);
        Assert.Null(module.SecurityMode);
        Assert.False(module.IsProtected);
    }

    [Fact]
    public void Reports_both_prefix_dependencies_and_dependency_extensions()
    {
        var file = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = 12,
            Function = ModuleFunction.SystemPart,
            Dependency1 = new ModuleDependency(ModuleFunction.Bootloader, 0, 2102),
            Dependency2 = new ModuleDependency(ModuleFunction.RadioStack, 0, 202),
            SuffixExtensions = [ModuleExtensionEncoder.Dependency(ModuleFunction.NcpFirmware, 0, 7, 0xC0FFEE)],
        });

        var module = Accept(file);

        Assert.Equal(
            [
                new ModuleDependency(ModuleFunction.Bootloader, 0, 2102),
                new ModuleDependency(ModuleFunction.RadioStack, 0, 202),
                new ModuleDependency(ModuleFunction.NcpFirmware, 0, 7, 0xC0FFEE),
            ],
            module.Dependencies);
    }

    [Theory]
    [InlineData(0x184)]
    [InlineData(0x200)]
    [InlineData(0xC0)]
    [InlineData(0x10C)]
    [InlineData(0x400)]
    public void Finds_the_prefix_after_a_vector_table(int offset)
    {
        Assert.Equal(offset, Accept(Build(prefixOffset: offset)).PrefixOffset);
        // gcc (platform 3) is unknown to the package's table, so only the best-score fallback finds it.
        Assert.Equal(offset, Accept(Build(platformId: 3, prefixOffset: offset)).PrefixOffset);
    }

    [Fact]
    public void Non_product_firmware_reads_0xFFFF_and_a_36_byte_suffix_has_no_product_fields()
    {
        var plain = Build();
        Assert.Equal((ushort)0xFFFF, Accept(plain).ProductId);

        // Drop the 4 legacy product bytes: suffix size 36.
        var legacy = Reseal([.. plain[..^44], .. plain[^40..]]);
        BinaryPrimitives.WriteUInt16LittleEndian(legacy.AsSpan(legacy.Length - 6), 36);
        var module = Accept(Reseal(legacy));
        Assert.Null(module.ProductId);
        Assert.Null(module.ProductVersion);
    }

    [Fact]
    public void Reads_every_extension_type()
    {
        var hash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var module = Accept(Build(
            prefixExtensions: [ModuleExtensionEncoder.Name("app"), ModuleExtensionEncoder.Hash(hash)],
            suffixExtensions:
            [
                ModuleExtensionEncoder.DynamicLocation(1, 2, 3),
                ModuleExtensionEncoder.AssetDependency(hash, "cat.jpg"),
                ModuleExtensionEncoder.AssetType(2),
                ModuleExtensionEncoder.Encode((ModuleExtensionType)0x99, [9, 9]),
                ModuleExtensionEncoder.SecurityMode(SecurityMode.Protected, [0xCE, 0x27]),
                ModuleExtensionEncoder.ProductData(20000, 42),
            ]));

        Assert.Equal(ModuleFlags.PrefixExtensions, module.Flags);
        Assert.Equal("app", module.Name);
        Assert.Equal(hash, Assert.IsType<HashExtension>(module.PrefixExtensions[1]).Hash.ToArray());
        Assert.IsType<EndExtension>(module.PrefixExtensions[2]);
        Assert.Equal(ModuleLayout.PrefixSize + 7 + 38 + 4, module.PrefixSize);
        Assert.Equal((2u, 3u), (Assert.IsType<DynamicLocationExtension>(module.SuffixExtensions[0]).DynalibLoadAddress, ((DynamicLocationExtension)module.SuffixExtensions[0]).DynalibStartAddress));
        Assert.Equal("cat.jpg", Assert.IsType<AssetDependencyExtension>(module.SuffixExtensions[1]).Name);
        Assert.Equal(2, Assert.IsType<AssetTypeExtension>(module.SuffixExtensions[2]).AssetType);
        Assert.Equal((ModuleExtensionType)0x99, Assert.IsType<UnknownExtension>(module.SuffixExtensions[3]).Type);
        Assert.Equal([0xCE, 0x27], module.SecurityModeExtension!.Certificate.ToArray());
        var product = Assert.IsType<ProductDataExtension>(module.SuffixExtensions[5]);
        Assert.Equal(((ushort)20000, (ushort)42, 0x4E20FFFFu), (product.ProductId, product.ProductVersion, product.Id));
        Assert.Equal((ushort)20000, module.ProductId);
        Assert.True(module.IsProtected);
        Assert.False(module.EnablesDeviceProtection); // a user part cannot protect the device
    }

    [Fact]
    public void Only_a_bootloader_with_suffix_security_mode_enables_device_protection()
    {
        var bootloader = Accept(Build(function: ModuleFunction.Bootloader,
            suffixExtensions: [ModuleExtensionEncoder.SecurityMode(SecurityMode.Protected), ModuleExtensionEncoder.End()]));
        Assert.True(bootloader.EnablesDeviceProtection);

        var none = Accept(Build(function: ModuleFunction.Bootloader,
            suffixExtensions: [ModuleExtensionEncoder.SecurityMode(SecurityMode.None), ModuleExtensionEncoder.End()]));
        Assert.Equal(SecurityMode.None, none.SecurityMode);
        Assert.False(none.EnablesDeviceProtection);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(63)]
    public void Refuses_files_too_short_to_be_a_module(int length) =>
        Assert.Equal(FirmwareErrorReason.TooShort, Refusal(new byte[length]).Reason);

    [Fact]
    public void Refuses_erased_flash_and_zeros()
    {
        Assert.Equal(FirmwareErrorReason.PrefixNotFound, Refusal(Enumerable.Repeat((byte)0xFF, 4096).ToArray()).Reason);
        Assert.Equal(FirmwareErrorReason.PrefixNotFound, Refusal(new byte[4096]).Reason);
    }

    [Fact]
    public void Every_single_byte_flip_is_refused_and_payload_flips_are_crc_mismatches()
    {
        var original = Build(function: ModuleFunction.Bootloader, prefixOffset: 0x200, dataSize: 32,
            suffixExtensions: [ModuleExtensionEncoder.SecurityMode(SecurityMode.Protected), ModuleExtensionEncoder.End()]);
        for (var i = 0; i < original.Length; i++)
        {
            var copy = original.ToArray();
            copy[i] ^= 0x5A;
            var reason = Refusal(copy).Reason;
            // A flip inside the prefix may make it implausible (PrefixNotFound, Truncated, TrailingData); past it, only the CRC can tell.
            var pastPrefix = i >= 0x200 + ModuleLayout.PrefixSize;
            Assert.True(!pastPrefix || reason == FirmwareErrorReason.CrcMismatch, $"flip at 0x{i:X}: {reason}");
        }
    }

    [Fact]
    public void Every_truncation_is_refused_as_truncated()
    {
        var original = Build(prefixOffset: 0x184, dataSize: 48);
        for (var length = ModuleLayout.MinimumModuleSize; length < original.Length; length++)
        {
            // Cut before the prefix ends, there is no prefix left to declare a length.
            var expected = length < 0x184 + ModuleLayout.PrefixSize ? FirmwareErrorReason.PrefixNotFound : FirmwareErrorReason.Truncated;
            Assert.Equal(expected, Refusal(original[..length]).Reason);
        }
    }

    [Fact]
    public void Refuses_trailing_data_and_combined_images()
    {
        var module = Build();
        Assert.Equal(FirmwareErrorReason.TrailingData, Refusal([.. module, 0]).Reason);

        var combined = module.ToArray();
        combined[9] = (byte)ModuleFlags.Combined;
        Assert.Equal(FirmwareErrorReason.CombinedModuleUnsupported, Refusal([.. combined, .. module]).Reason);
    }

    [Fact]
    public void Refuses_wrong_crc_and_wrong_sha_with_stored_and_computed_values()
    {
        var module = Build();
        var wrongCrc = module.ToArray();
        wrongCrc[^1] ^= 1;
        var crcError = Refusal(wrongCrc);
        Assert.Equal(FirmwareErrorReason.CrcMismatch, crcError.Reason);
        Assert.Contains(FirmwareModule.ComputeCrc32(module).ToString("x8"), crcError.Message);

        var wrongSha = module.ToArray();
        wrongSha[^10] ^= 1;
        ModuleChecksums.UpdateCrc32(wrongSha);
        var shaError = Refusal(wrongSha);
        Assert.Equal(FirmwareErrorReason.Sha256Mismatch, shaError.Reason);
        Assert.Contains(Convert.ToHexStringLower(FirmwareModule.ComputeSha256(module)), shaError.Message);
    }

    [Fact]
    public void Refuses_undefined_functions_flags_and_dependencies_even_with_valid_checksums()
    {
        var module = Build();
        Assert.Equal(FirmwareErrorReason.UnknownModuleFunction, Refusal(EditAndReseal(module, m => m[14] = 0x20)).Reason);
        Assert.Equal(FirmwareErrorReason.UnknownModuleFlags, Refusal(EditAndReseal(module, m => m[9] = 0x80)).Reason);
        Assert.Equal(FirmwareErrorReason.InvalidDependency, Refusal(EditAndReseal(module, m => m[20] = 0x30)).Reason);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(35)]
    [InlineData(38)]
    [InlineData(39)]
    [InlineData(0xFFFF)]
    public void Refuses_impossible_suffix_sizes(int suffixSize) =>
        Assert.Equal(FirmwareErrorReason.InvalidSuffixSize,
            Refusal(EditAndReseal(Build(), m => BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(m.Length - 6), (ushort)suffixSize))).Reason);

    [Fact]
    public void Refuses_malformed_extensions()
    {
        var protectedModule = Build(suffixExtensions: [ModuleExtensionEncoder.SecurityMode(SecurityMode.Protected), ModuleExtensionEncoder.End()]);
        var suffixStart = protectedModule.Length - 4 - 49;

        FirmwareErrorReason ReasonAfter(Action<byte[]> edit) => Refusal(EditAndReseal(protectedModule, edit)).Reason;
        Assert.Equal(FirmwareErrorReason.MalformedExtension, ReasonAfter(m => m[suffixStart + 2] = 2));
        Assert.Equal(FirmwareErrorReason.MalformedExtension, ReasonAfter(m => m[suffixStart + 2] = 200));
        Assert.Equal(FirmwareErrorReason.MalformedExtension, ReasonAfter(m => m[suffixStart] = m[suffixStart + 1] = 0xFF));
        Assert.Equal(FirmwareErrorReason.InvalidExtensionPayload, ReasonAfter(m => m[suffixStart + 4] = 2));
        Assert.Equal(FirmwareErrorReason.InvalidExtensionPayload, ReasonAfter(m => m[suffixStart] = (byte)ModuleExtensionType.Dependency));

        var twoModes = Build(suffixExtensions:
            [ModuleExtensionEncoder.SecurityMode(SecurityMode.None), ModuleExtensionEncoder.SecurityMode(SecurityMode.Protected), ModuleExtensionEncoder.End()]);
        Assert.Equal(FirmwareErrorReason.DuplicateSecurityMode, Refusal(twoModes).Reason);

        // A prefix NAME extension stretched to the suffix: the prefix area ends without END.
        var withPrefix = Build(prefixExtensions: [ModuleExtensionEncoder.Name("x")]);
        var stretched = EditAndReseal(withPrefix, m =>
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(ModuleLayout.PrefixSize + 2), (ushort)(m.Length - 4 - 40 - ModuleLayout.PrefixSize)));
        Assert.Equal(FirmwareErrorReason.MissingEndExtension, Refusal(stretched).Reason);
    }

    [Fact]
    public void Result_form_carries_the_same_outcome()
    {
        Assert.True(FirmwareModule.Parse(Build()).IsValid);
        var refused = FirmwareModule.Parse(new byte[10]);
        Assert.False(refused.IsValid);
        Assert.Equal(FirmwareErrorReason.TooShort, refused.Error.Reason);
    }

    [Fact]
    public void Describe_letters_round_trip()
    {
        Assert.Equal("nrbmsu_cat", string.Concat(Enum.GetValues<ModuleFunction>().Select(f => f.ToDescribeLetter())));
        Assert.True(ModuleFunctionInfo.TryFromDescribeLetter('s', out var function));
        Assert.Equal(ModuleFunction.SystemPart, function);
        Assert.Equal('?', ((ModuleFunction)42).ToDescribeLetter());
    }
}
