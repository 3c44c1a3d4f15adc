using Bulwark.Server.Features.Admission;
using Bulwark.Server.Features.Teams;

namespace Bulwark.Server.Features.ProductDevices;

/// <summary>A product's devices: add/import/approve, list (with the quarantine and denied lists), get, update, remove
/// and deny. Admission itself (what a device gets when it connects) is in Features/Admission.</summary>
public static class ProductDeviceEndpoints
{
    public static IServiceCollection AddProductDevices(this IServiceCollection services)
    {
        services.AddSingleton<ProductPrivileges>();
        services.AddSingleton<IProductPrivileges>(sp => sp.GetRequiredService<ProductPrivileges>());
        services.AddSingleton<DeviceAdmission>();
        return services;
    }

    public static IEndpointRouteBuilder MapProductDeviceEndpoints(this IEndpointRouteBuilder app)
    {
        var devices = app.MapGroup("/v1/products/{productIdOrSlug}/devices");
        devices.MapGet("", ListProductDevicesQuery.ListAsync).RequirePermission(Scopes.DevicesList);
        devices.MapPost("", ImportProductDevicesCommand.HandleAsync).RequirePermission(Scopes.DevicesImport).DisableAntiforgery();
        devices.MapGet("/{deviceId}", ListProductDevicesQuery.GetAsync).RequirePermission(Scopes.DevicesGet);
        // Name and notes here; firmware's fields (development, desired_firmware_version, flash, groups) through IProductDeviceFieldHandler.
        devices.MapPut("/{deviceId}", UpdateProductDeviceCommand.HandleAsync).RequirePermission(Scopes.DevicesUpdate);
        devices.MapDelete("/{deviceId}", RemoveProductDeviceCommand.HandleAsync).RequirePermission(Scopes.DevicesRemove);
        return app;
    }
}
