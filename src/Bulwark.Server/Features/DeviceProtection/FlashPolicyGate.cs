using System.Security.Cryptography;
using Bulwark.Firmware;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.DeviceProtection;

/// <summary>Applies <see cref="FlashPolicy"/> to an API request that sends a binary to one device: classifies the binary
/// against the device (product firmware means the same bytes as one of the device's product's uploaded firmware),
/// decides, and on refusal answers 403 with the reason and records an audit event.</summary>
public static class FlashPolicyGate
{
    /// <summary>Null when the flash may go ahead; otherwise the error to answer with (already audited).</summary>
    public static async Task<IResult?> CheckAsync(BulwarkDbContext db, HttpContext context, Device device, ParsedModule module, byte[] image,
        FlashRequester requester)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(module);
        var protection = context.RequestServices.GetRequiredService<DeviceProtectionService>();
        var status = await protection.RefreshAsync(db, device.Id, context.RequestAborted);
        var isProductFirmware = false;
        if (device.CloudProductId is { } productId && module.Function == ModuleFunction.UserPart)
        {
            var sha = Convert.ToHexStringLower(SHA256.HashData(image));
            isProductFirmware = await db.ProductFirmware.AsNoTracking()
                .AnyAsync(f => f.ProductId == productId && (f.Sha256 == sha || f.Sha256 == sha.ToUpperInvariant()), context.RequestAborted);
        }
        var kind = FlashPolicy.Classify(module, isProductFirmware, device.SystemVersion);
        var verdict = FlashPolicy.Decide(status, kind, requester);
        if (verdict.Allowed)
        {
            return null;
        }
        var audit = context.RequestServices.GetRequiredService<AuditLog>();
        await audit.RecordAsync(db, AuditEventType.FlashRefusedByProtection, AuditActor.From(context, context.User.UserId(), context.User.Username()),
            device.Id, $"{kind} refused on a {ProtectionStatusRules.Text(status)} device ({verdict.Code}): {verdict.Reason}", context.RequestAborted);
        return ApiProblem.Forbidden(verdict.Reason, verdict.Code ?? "device_protected");
    }
}
