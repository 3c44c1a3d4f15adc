using Bulwark.Firmware;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Gateway.Ota;
using Bulwark.Server.Http;

namespace Bulwark.Server.Features.Firmware;

/// <summary>Development flashing: <c>PUT /v1/devices/:id</c> multipart with a binary in <c>file</c> (particle-api.md 5.4).
/// The module must be valid and built for the device's platform; it is sent at once over OTA v1 if the device is online.</summary>
public static class FlashDeviceCommand
{
    public static bool IsFlashRequest(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.ContentType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) == true;
    }

    /// <summary>The caller has been checked to own <paramref name="device"/>.</summary>
    public static async Task<IResult> HandleAsync(HttpContext context, Device device, BulwarkDbContext db, AuditLog audit, OtaScheduler ota)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(device);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var file = form.Files.GetFile("file") ?? form.Files.FirstOrDefault();
        if (file is null || file.Length is 0 or > UploadFirmwareCommand.MaxBinaryBytes)
        {
            return ApiProblem.BadRequest("Send the firmware binary in a part named 'file' (file_type=binary); compiling sources is not supported");
        }
        var bytes = new byte[file.Length];
        await using (var stream = file.OpenReadStream())
        {
            await stream.ReadExactlyAsync(bytes, context.RequestAborted);
        }
        if (!FirmwareModule.TryParse(bytes, out var module, out var error))
        {
            return ApiProblem.BadRequest($"The binary is not a valid firmware module ({error.Reason}): {error.Message}", "invalid_binary");
        }
        if (device.PlatformId is { } platform && module.PlatformId != platform)
        {
            return ApiProblem.BadRequest($"The binary is built for platform {module.PlatformId}; the device is platform {platform}", "wrong_platform");
        }
        // Device Protection's flash policy, whatever token is presented (the device owner's included).
        var verdict = await DeviceProtection.FlashPolicyGate.CheckAsync(db, context, device, module, bytes, DeviceProtection.FlashRequester.DeviceOwner);
        if (verdict is not null)
        {
            return verdict;
        }
        if (!await ota.TryFlashAsync(device.Id, bytes, device.OwnerUserId, context.RequestAborted))
        {
            return ApiProblem.Create(409, "device_unavailable", "The device is offline or already receiving an update");
        }
        await audit.RecordAsync(db, AuditEventType.DeviceFlashRequested, AuditActor.From(context, context.User.UserId(), context.User.Username()),
            device.Id, $"{module.Function} v{module.Version}, {bytes.Length} bytes", context.RequestAborted);
        return TypedResults.Json(new Dictionary<string, object?> { ["id"] = device.Id, ["status"] = "Update started", ["ok"] = true, ["message"] = "Update started" });
    }
}
