using Bulwark.Server.Data;
using Bulwark.Server.Features.Admission;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.ProductDevices;

/// <summary><c>DELETE /v1/products/:p/devices/:id</c> (devices:remove): removes a member, or with <c>{deny:true}</c> (body,
/// or <c>?deny=true</c>) denies it. Works on quarantined and unrecognized devices too. A removed device that comes back
/// with product firmware lands in the denied list; a denied device can be approved later with the add call. 204.</summary>
public static class RemoveProductDeviceCommand
{
    public static async Task<IResult> HandleAsync(string deviceId, HttpContext context, BulwarkDbContext db, DeviceAdmission admission,
        AuditLog audit, TimeProvider clock)
    {
        // particle-api-js sends {deny} as a JSON body on DELETE; accept the query string too.
        var fields = await RequestFields.ReadAsync(context.Request);
        var deny = fields.Bool("deny") ?? (bool.TryParse(context.Request.Query["deny"], out var q) && q);
        var product = context.Grant().Product!;
        var id = deviceId.Trim().ToLowerInvariant();
        var device = await db.Devices.FirstOrDefaultAsync(d => d.Id == id, context.RequestAborted);
        var state = await db.ProductDeviceStates.FirstOrDefaultAsync(s => s.ProductId == product.Id && s.DeviceId == id, context.RequestAborted);
        var isMember = device?.CloudProductId == product.Id;
        if (device is null || (!isMember && state is null))
        {
            return ApiProblem.NotFound("Device not found in this product");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        var was = isMember ? "member" : state!.State;
        if (state is null)
        {
            state = new ProductDeviceState { ProductId = product.Id, DeviceId = id, State = "" };
            db.ProductDeviceStates.Add(state);
        }
        state.State = deny ? ProductDeviceStates.Denied : ProductDeviceStates.Removed;
        state.Reason = deny ? "denied by " + context.Caller().Username : "removed by " + context.Caller().Username;
        state.UpdatedAt = now;
        if (isMember)
        {
            device.CloudProductId = null;
            device.ProductPrivileges = DeviceAdmission.PrivilegesAfterMembershipChange(device);
        }
        await audit.RecordAsync(db, deny ? AuditEventType.ProductDeviceDenied : AuditEventType.ProductDeviceRemoved,
            AuditActor.From(context, context.Caller().UserId, context.Caller().Username), ProductAccess.ProductSubject(product.Id),
            $"{(deny ? "denied" : "removed")} device {id} (was {was})", context.RequestAborted);
        admission.Refresh(device);
        return TypedResults.NoContent();
    }
}
