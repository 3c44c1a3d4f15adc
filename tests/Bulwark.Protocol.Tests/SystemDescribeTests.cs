using Bulwark.Protocol.Messages;

namespace Bulwark.Protocol.Tests;

public class SystemDescribeTests
{
    // Written by hand from cloud/describe.proto (device-os-protobuf 2.9.0): one FirmwareModule
    // {type=4 (system part), index=1, version=6200, checked_flags=passed_flags=0x1E} and protected_state=true.
    //   0A 11                 field 1 (firmware_modules), length-delimited, 17 bytes
    //     08 04               field 1 type = 4 (varint)
    //     10 01               field 2 index = 1
    //     18 B8 30            field 3 version = 6200 (0x1838 -> 0x38|0x80, 0x30)
    //     35 1E 00 00 00      field 6 checked_flags, fixed32 little-endian
    //     3D 1E 00 00 00      field 7 passed_flags
    //   30 01                 field 6 protected_state = true (varint)
    private const string HandVector = "0A11" + "0804" + "1001" + "18B830" + "351E000000" + "3D1E000000" + "3001";

    // protobufjs 7 (the package's generated static code) encoding the gcc-like set the simulator sends, zero fields unset:
    // bootloader v1200 with security {mode PROTECTED}; system part 1 v6200 (size 10485764 > max 10485760, as live) depending
    // on the bootloader; user part 1 v7 with an all-zero hash depending on system part 1; protected_state = true.
    private const string ProtobufJsVector =
        "0a1b080218b00928808004351e0000003d1e0000005880c002620208010a220804100118b8302880808005351e0000003d1e0000004a05080218b009" +
        "58848080050a4208051001180728808008351e0000003d1e00000042200000000000000000000000000000000000000000000000000000000000000000" +
        "4a070804100118b8305880203001";

    // protobufjs with every field set, zeros explicit (index 0, store 0, an empty certificate fingerprint), a failed
    // validity check on the user part (passed 0x1A), IMEI, ICCID, modem version and env_vars_hash.
    private const string ProtobufJsFullVector =
        "0a210802100018b009200028808004351e0000003d1e0000005880c0026204080112000a240804100118b8302880808005351e0000003d1e0000004a" +
        "070802100018b00958848080050a4208051001180728808008351e0000003d1a00000042200000000000000000000000000000000000000000000000" +
        "0000000000000000004a070804100118b830588020120f3335333136323037353132333435361a133839333430373635303030303235383736353722" +
        "0a534152412d523431304d30013a0401020304";

    private static SystemDescribe SimulatorSet() => new()
    {
        Modules =
        [
            new DescribeModule
            {
                Type = DescribeModuleType.Bootloader, Index = 0, Version = 1200, MaxSize = 65536, Size = 40960,
                CheckedFlags = 0x1E, PassedFlags = 0x1E, Security = new DescribeModuleSecurity(DescribeSecurityMode.Protected, []),
            },
            new DescribeModule
            {
                Type = DescribeModuleType.SystemPart, Index = 1, Version = 6200, MaxSize = 10485760, Size = 10485764,
                CheckedFlags = 0x1E, PassedFlags = 0x1E, Dependencies = [new DescribeModuleDependency(DescribeModuleType.Bootloader, 0, 1200)],
            },
            new DescribeModule
            {
                Type = DescribeModuleType.UserPart, Index = 1, Version = 7, MaxSize = 131072, Size = 4096,
                CheckedFlags = 0x1E, PassedFlags = 0x1E, Hash = new byte[32],
                Dependencies = [new DescribeModuleDependency(DescribeModuleType.SystemPart, 1, 6200)],
            },
        ],
        ProtectedState = true,
    };

    [Fact]
    public void Writer_produces_the_hand_encoded_bytes()
    {
        var describe = new SystemDescribe
        {
            Modules = [new DescribeModule { Type = DescribeModuleType.SystemPart, Index = 1, Version = 6200, CheckedFlags = 0x1E, PassedFlags = 0x1E }],
            ProtectedState = true,
        };
        Assert.Equal(HandVector, Convert.ToHexString(describe.ToArray()));
    }

    [Fact]
    public void Hand_encoded_bytes_parse()
    {
        Assert.True(SystemDescribe.TryParse(Convert.FromHexString(HandVector), out SystemDescribe? describe, out SystemDescribeParseError error), error.ToString());
        DescribeModule module = Assert.Single(describe.Modules);
        Assert.Equal(DescribeModuleType.SystemPart, module.Type);
        Assert.Equal(1u, module.Index);
        Assert.Equal(6200u, module.Version);
        Assert.Equal(DescribeModuleStore.Main, module.Store);
        Assert.Equal((uint)DescribeValidityFlags.All, module.CheckedFlags);
        Assert.True(module.IsValid);
        Assert.Null(module.Hash);
        Assert.Null(module.Security);
        Assert.Empty(module.Dependencies);
        Assert.True(describe.ProtectedState);
        Assert.Null(describe.Imei);
    }

    [Fact]
    public void Writer_matches_protobufjs_byte_for_byte()
    {
        Assert.Equal(ProtobufJsVector, Convert.ToHexString(SimulatorSet().ToArray()), ignoreCase: true);
    }

    [Fact]
    public void Protobufjs_vector_round_trips()
    {
        byte[] bytes = Convert.FromHexString(ProtobufJsVector);
        Assert.True(SystemDescribe.TryParse(bytes, out SystemDescribe? describe, out SystemDescribeParseError error), error.ToString());
        Assert.Equal(3, describe.Modules.Count);
        Assert.True(describe.Modules[0].IsProtected);
        Assert.Equal(bytes, describe.ToArray());
    }

    [Fact]
    public void Protobufjs_vector_with_every_field_and_explicit_zeros_parses()
    {
        Assert.True(SystemDescribe.TryParse(Convert.FromHexString(ProtobufJsFullVector), out SystemDescribe? describe, out SystemDescribeParseError error), error.ToString());
        Assert.Equal(3, describe.Modules.Count);
        DescribeModule bootloader = describe.Modules[0];
        Assert.Equal(DescribeModuleType.Bootloader, bootloader.Type);
        Assert.Equal(0u, bootloader.Index);
        Assert.Equal(1200u, bootloader.Version);
        Assert.Equal(65536u, bootloader.MaxSize);
        Assert.Equal(40960u, bootloader.Size);
        Assert.Equal(DescribeSecurityMode.Protected, bootloader.Security?.Mode);
        Assert.Empty(bootloader.Security!.CertificateFingerprint);
        DescribeModule system = describe.Modules[1];
        Assert.Equal(DescribeModuleType.SystemPart, system.Type);
        Assert.Equal(6200u, system.Version);
        Assert.Equal(10485764u, system.Size);
        Assert.Equal(new DescribeModuleDependency(DescribeModuleType.Bootloader, 0, 1200), Assert.Single(system.Dependencies));
        Assert.False(system.IsProtected);
        DescribeModule user = describe.Modules[2];
        Assert.Equal(DescribeModuleType.UserPart, user.Type);
        Assert.Equal(7u, user.Version);
        Assert.Equal(0x1Au, user.PassedFlags);
        Assert.False(user.IsValid);
        Assert.Equal(new byte[32], user.Hash);
        Assert.Equal(new DescribeModuleDependency(DescribeModuleType.SystemPart, 1, 6200), Assert.Single(user.Dependencies));
        Assert.Equal("353162075123456", describe.Imei);
        Assert.Equal("8934076500002587657", describe.Iccid);
        Assert.Equal("SARA-R410M", describe.ModemFirmwareVersion);
        Assert.True(describe.ProtectedState);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, describe.EnvVarsHash);
    }

    [Fact]
    public void Modules_json_uses_the_describe_letters()
    {
        Assert.True(SystemDescribe.TryParse(Convert.FromHexString(ProtobufJsVector), out SystemDescribe? describe, out _));
        Assert.Equal(
            """[{"f":"b","n":"0","v":1200,"s":40960,"l":"m","vc":30,"vv":30,"d":[],"security":"protected"},""" +
            """{"f":"s","n":"1","v":6200,"s":10485764,"l":"m","vc":30,"vv":30,"d":[{"f":"b","n":"0","v":1200}]},""" +
            """{"f":"u","n":"1","v":7,"s":4096,"l":"m","vc":30,"vv":30,"d":[{"f":"s","n":"1","v":6200}],"u":""" + "\"" + new string('0', 64) + "\"}]",
            describe.ToModulesJson());
    }

    [Fact]
    public void Empty_payload_is_an_empty_describe()
    {
        Assert.True(SystemDescribe.TryParse([], out SystemDescribe? describe, out _));
        Assert.Empty(describe.Modules);
        Assert.False(describe.ProtectedState);
        Assert.Empty(describe.ToArray());
    }

    [Fact]
    public void Unknown_fields_of_every_wire_type_are_skipped()
    {
        // field 15 varint, field 16 fixed64, field 17 fixed32, field 18 bytes, then the hand vector; and an unknown
        // field 13 (varint) inside the module.
        string unknown = "7805" + "8101" + "0102030405060708" + "8D01" + "01020304" + "9201" + "03" + "AABBCC";
        string module = "0A13" + "0804" + "1001" + "18B830" + "351E000000" + "3D1E000000" + "6801";
        Assert.True(SystemDescribe.TryParse(Convert.FromHexString(unknown + module + "3001"), out SystemDescribe? describe, out SystemDescribeParseError error), error.ToString());
        Assert.Equal(6200u, Assert.Single(describe.Modules).Version);
        Assert.True(describe.ProtectedState);
    }

    [Theory]
    [InlineData("0A", SystemDescribeParseError.Truncated)]                              // tag, no length
    [InlineData("0A05", SystemDescribeParseError.Truncated)]                            // length beyond the input
    [InlineData("0A030804", SystemDescribeParseError.Truncated)]                        // module shorter than its length
    [InlineData("0A021880", SystemDescribeParseError.Truncated)]                        // varint cut at the module's end
    [InlineData("30FFFFFFFFFFFFFFFFFF7F", SystemDescribeParseError.MalformedVarint)]    // 10th byte > 1
    [InlineData("30FFFFFFFFFFFFFFFFFFFF01", SystemDescribeParseError.MalformedVarint)]  // 11 bytes
    [InlineData("0001", SystemDescribeParseError.InvalidTag)]                           // field 0
    [InlineData("0B", SystemDescribeParseError.UnsupportedWireType)]                    // field 1, start group
    [InlineData("0E", SystemDescribeParseError.UnsupportedWireType)]                    // wire type 6
    [InlineData("0801", SystemDescribeParseError.WrongWireType)]                        // modules as a varint
    [InlineData("3501000000", SystemDescribeParseError.WrongWireType)]                  // protected_state as fixed32
    [InlineData("0A020D01", SystemDescribeParseError.WrongWireType)]                    // module type as fixed32
    [InlineData("1202C328", SystemDescribeParseError.InvalidUtf8)]                      // IMEI with an invalid UTF-8 sequence
    public void Damaged_input_is_refused_with_a_reason(string hex, SystemDescribeParseError expected)
    {
        bool parsed = SystemDescribe.TryParse(Convert.FromHexString(hex), out SystemDescribe? describe, out SystemDescribeParseError error);
        Assert.False(parsed);
        Assert.Null(describe);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Bounds_are_enforced()
    {
        // 33 empty modules.
        byte[] tooMany = [.. Enumerable.Repeat<byte[]>([0x0A, 0x00], SystemDescribe.MaxModules + 1).SelectMany(b => b)];
        Assert.False(SystemDescribe.TryParse(tooMany, out _, out SystemDescribeParseError error));
        Assert.Equal(SystemDescribeParseError.TooManyItems, error);
        Assert.True(SystemDescribe.TryParse(tooMany.AsSpan(2), out SystemDescribe? exactly, out _));
        Assert.Equal(SystemDescribe.MaxModules, exactly.Modules.Count);

        byte[] longImei = [0x12, 0x81, 0x02, .. new byte[257]];
        Assert.False(SystemDescribe.TryParse(longImei, out _, out error));
        Assert.Equal(SystemDescribeParseError.FieldTooLarge, error);

        byte[] longHash = [0x3A, 65, .. new byte[65]];
        Assert.False(SystemDescribe.TryParse(longHash, out _, out error));
        Assert.Equal(SystemDescribeParseError.FieldTooLarge, error);

        Assert.False(SystemDescribe.TryParse(new byte[SystemDescribe.MaxLength + 1], out _, out error));
        Assert.Equal(SystemDescribeParseError.TooLarge, error);
    }

    [Fact]
    public void Uint32_fields_take_the_low_32_bits_of_a_wide_varint()
    {
        // type = -1 as protobuf encodes a negative enum (10 bytes): read as 0xFFFFFFFF, an unknown type, not an error.
        Assert.True(SystemDescribe.TryParse(Convert.FromHexString("0A0B08FFFFFFFFFFFFFFFFFF01"), out SystemDescribe? describe, out _));
        Assert.Equal(uint.MaxValue, (uint)Assert.Single(describe.Modules).Type);
        Assert.Contains("\"f\":\"?\"", describe.ToModulesJson(), StringComparison.Ordinal);
    }
}
