using Bulwark.Firmware;
using Bulwark.Server.Features.DeviceProtection;
using Bulwark.Server.Features.Teams;

namespace Bulwark.Server.Tests.Features.DeviceProtection;

/// <summary>The flash policy as a table: every firmware kind against every protection status and every requester,
/// the product owner's token and the device owner's token included. The expected column is written out by hand per
/// (kind, status) and the role rule is applied on top: no role turns a protection refusal into an allowance.</summary>
public class FlashPolicyTests
{
    // Expected for a requester who may flash: A = allowed, R = refused. Columns: disabled, pending, active, service_mode.
    private static readonly Dictionary<FirmwareKind, string> Expected = new()
    {
        [FirmwareKind.AdHocApplication] = "ARRR",
        [FirmwareKind.UnprotectedProductFirmware] = "ARRR",
        [FirmwareKind.ProtectedProductFirmware] = "AAAA",
        [FirmwareKind.DeviceOsUpgrade] = "AAAA",
        [FirmwareKind.DeviceOsDowngradeBelow6] = "ARRR",
        [FirmwareKind.DeviceOsDowngradeWithin6] = "AAAA",
        [FirmwareKind.ProtectedBootloader] = "RAAA",
        [FirmwareKind.UnprotectedBootloader] = "ARRR",
    };

    private static readonly Dictionary<FirmwareKind, string> ProtectedRefusalCode = new()
    {
        [FirmwareKind.AdHocApplication] = FlashPolicy.RefusedAdHoc,
        [FirmwareKind.UnprotectedProductFirmware] = FlashPolicy.RefusedUnprotectedFirmware,
        [FirmwareKind.DeviceOsDowngradeBelow6] = FlashPolicy.RefusedDowngradeBelow6,
        [FirmwareKind.UnprotectedBootloader] = FlashPolicy.RefusedUnprotectedBootloader,
    };

    public static TheoryData<FirmwareKind, ProtectionStatus, FlashRequester> EveryCombination()
    {
        var data = new TheoryData<FirmwareKind, ProtectionStatus, FlashRequester>();
        foreach (var kind in Enum.GetValues<FirmwareKind>())
        foreach (var status in Enum.GetValues<ProtectionStatus>())
        foreach (var requester in Enum.GetValues<FlashRequester>())
        {
            data.Add(kind, status, requester);
        }
        return data;
    }

    [Theory, MemberData(nameof(EveryCombination))]
    public void Each_kind_status_and_requester(FirmwareKind kind, ProtectionStatus status, FlashRequester requester)
    {
        var verdict = FlashPolicy.Decide(status, kind, requester);
        var byProtection = Expected[kind][(int)status] == 'A';
        var mayFlash = requester is not (FlashRequester.ViewOnly or FlashRequester.Support);
        Assert.True(verdict.Allowed == (byProtection && mayFlash), $"{kind} / {status} / {requester}: {verdict}");
        Assert.False(string.IsNullOrWhiteSpace(verdict.Reason));
        if (!verdict.Allowed)
        {
            // A protection refusal is reported as such whoever asks: the role never hides why.
            var expectedCode = !byProtection
                ? (status == ProtectionStatus.Disabled ? FlashPolicy.RefusedNotProtectedProduct : ProtectedRefusalCode[kind])
                : FlashPolicy.RefusedRole;
            Assert.Equal(expectedCode, verdict.Code);
        }
    }

    [Fact]
    public void The_table_covers_every_kind_status_and_requester()
    {
        Assert.Equal(Enum.GetValues<FirmwareKind>().Length, Expected.Count);
        Assert.Equal(8 * 4 * 8, EveryCombination().Count);
    }

    [Theory]
    [InlineData(FlashRequester.Owner)]
    [InlineData(FlashRequester.DeviceOwner)]
    [InlineData(FlashRequester.Administrator)]
    [InlineData(FlashRequester.Cloud)]
    public void Even_the_owners_token_cannot_flash_unauthorized_firmware_to_a_protected_device(FlashRequester requester)
    {
        foreach (var status in new[] { ProtectionStatus.Pending, ProtectionStatus.Active, ProtectionStatus.ServiceMode })
        {
            Assert.Equal(FlashPolicy.RefusedAdHoc, FlashPolicy.Decide(status, FirmwareKind.AdHocApplication, requester).Code);
            Assert.Equal(FlashPolicy.RefusedDowngradeBelow6, FlashPolicy.Decide(status, FirmwareKind.DeviceOsDowngradeBelow6, requester).Code);
            Assert.Equal(FlashPolicy.RefusedUnprotectedFirmware, FlashPolicy.Decide(status, FirmwareKind.UnprotectedProductFirmware, requester).Code);
            Assert.True(FlashPolicy.Decide(status, FirmwareKind.ProtectedProductFirmware, requester).Allowed);
        }
    }

    [Theory]
    [InlineData(6200, 6300, FirmwareKind.DeviceOsUpgrade)]
    [InlineData(6200, 6200, FirmwareKind.DeviceOsUpgrade)]
    [InlineData(6200, 6000, FirmwareKind.DeviceOsDowngradeWithin6)]
    [InlineData(6200, 5900, FirmwareKind.DeviceOsDowngradeBelow6)]
    [InlineData(5800, 5900, FirmwareKind.DeviceOsUpgrade)]
    [InlineData(null, 5900, FirmwareKind.DeviceOsDowngradeBelow6)]
    [InlineData(null, 6200, FirmwareKind.DeviceOsUpgrade)]
    public void Device_os_versions_are_classified(int? running, int module, FirmwareKind expected) =>
        Assert.Equal(expected, FlashPolicy.ClassifyDeviceOs(module, running));

    [Fact]
    public void Modules_are_classified_by_function_product_and_protection()
    {
        var app6 = Parse(UserPart(3, 6000));
        var app5 = Parse(UserPart(2, 5900));
        Assert.Equal(FirmwareKind.ProtectedProductFirmware, FlashPolicy.Classify(app6, isProductFirmware: true, 6200));
        Assert.Equal(FirmwareKind.UnprotectedProductFirmware, FlashPolicy.Classify(app5, isProductFirmware: true, 6200));
        Assert.Equal(FirmwareKind.AdHocApplication, FlashPolicy.Classify(app6, isProductFirmware: false, 6200));

        var bootloaderBytes = FirmwareModuleBuilder.Build(new FirmwareModuleSpec { PlatformId = 13, Function = ModuleFunction.Bootloader, Index = 0, Version = 3000, PrefixOffset = 0x200 });
        Assert.Equal(FirmwareKind.UnprotectedBootloader, FlashPolicy.Classify(Parse(bootloaderBytes), false, 6200));
        Assert.True(ProtectedModuleBuilder.TryProtect(bootloaderBytes, out var protectedBytes, out var error), error?.Message);
        Assert.Equal(FirmwareKind.ProtectedBootloader, FlashPolicy.Classify(Parse(protectedBytes), false, 6200));
    }

    [Theory]
    [InlineData(TeamRole.ViewOnly, FlashRequester.ViewOnly)]
    [InlineData(TeamRole.Owner, FlashRequester.Owner)]
    [InlineData(null, FlashRequester.ApiUser)]
    public void Roles_map_to_requesters(TeamRole? role, FlashRequester expected) => Assert.Equal(expected, FlashPolicy.RequesterOf(role));

    private static byte[] UserPart(ushort version, ushort system) => FirmwareModuleBuilder.Build(new FirmwareModuleSpec
    {
        PlatformId = 13, Function = ModuleFunction.UserPart, Index = 1, Version = 6, ProductId = 5001, ProductVersion = version,
        Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, system),
    });

    private static ParsedModule Parse(byte[] bytes)
    {
        Assert.True(FirmwareModule.TryParse(bytes, out var module, out var error), error?.Message);
        return module;
    }
}
