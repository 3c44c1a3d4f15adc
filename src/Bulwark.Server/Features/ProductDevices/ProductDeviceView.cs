using Bulwark.Server.Data;
using Bulwark.Server.Features.Devices;
using Bulwark.Server.Gateway;

namespace Bulwark.Server.Features.ProductDevices;

/// <summary>The Particle device object as a product sees it (particle-api.md 3.2): the user view plus the product-only
/// fields. <c>product_id</c> is the cloud's product; <c>firmware_product_id</c> what the firmware last said.</summary>
internal static class ProductDeviceView
{
    public static Dictionary<string, object?> From(Device d, int productId, ProductDeviceState? state, IDeviceConnection? connection, string? ownerUsername)
    {
        var view = DeviceView.From(d, connection, ownerUsername);
        view["product_id"] = productId;
        view["firmware_product_id"] = d.ProductId ?? d.PlatformId;
        view["quarantined"] = state?.State == ProductDeviceStates.Quarantined;
        view["denied"] = state?.State == ProductDeviceStates.Denied;
        view["groups"] = Array.Empty<string>();
        view["development"] = false;
        view["desired_firmware_version"] = null;
        view["targeted_firmware_release_version"] = null;
        // Bulwark's own: why the device has (or lacks) product privileges.
        view["product_privileges"] = d.CloudProductId == productId ? d.ProductPrivileges : ProductPrivilegeLevelNone;
        if (state is not null)
        {
            view["admission"] = new Dictionary<string, object?>
            {
                ["state"] = state.State,
                ["reason"] = state.Reason,
                ["last_attempt_at"] = DeviceView.Time(state.LastAttemptAt),
                ["system_firmware_version"] = DeviceView.SystemVersionText(state.SystemVersion),
            };
        }
        return view;
    }

    private const string ProductPrivilegeLevelNone = Admission.ProductPrivilegeLevel.None;
}
