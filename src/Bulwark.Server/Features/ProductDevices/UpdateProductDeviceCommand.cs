using System.Text.RegularExpressions;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Devices;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.ProductDevices;

/// <summary>Another feature's fields of <c>PUT /v1/products/:p/devices/:id</c> (firmware: development,
/// desired_firmware_version with flash, groups). Register one as a scoped or singleton service; the handler below runs
/// every registered one whose fields are present, after its own name and notes.</summary>
public interface IProductDeviceFieldHandler
{
    IReadOnlyList<string> FieldNames { get; }

    /// <summary>True when the request carries any of this handler's fields (including an explicit null that clears one).</summary>
    bool Wants(RequestFields fields);

    /// <summary>Applies the fields present, echoing them into <paramref name="response"/>; answers a problem to return, or null.</summary>
    Task<IResult?> ApplyAsync(RequestFields fields, HttpContext context, Product product, string deviceId, IDictionary<string, object?> response);
}

/// <summary><c>PUT /v1/products/:p/devices/:id</c> (devices:update): <c>name</c> and <c>notes</c> here, other fields through
/// <see cref="IProductDeviceFieldHandler"/>. Echoes <c>{id, changed fields…, updated_at}</c>.</summary>
public static partial class UpdateProductDeviceCommand
{
    public static async Task<IResult> HandleAsync(string deviceId, HttpContext context, BulwarkDbContext db, AuditLog audit, TimeProvider clock,
        IEnumerable<IProductDeviceFieldHandler> handlers)
    {
        ArgumentNullException.ThrowIfNull(handlers);
        var fields = await RequestFields.ReadAsync(context.Request);
        var product = context.Grant().Product!;
        var id = deviceId.Trim().ToLowerInvariant();
        var device = await db.Devices.FirstOrDefaultAsync(d => d.Id == id && d.CloudProductId == product.Id, context.RequestAborted);
        if (device is null)
        {
            return ApiProblem.NotFound("Device not found in this product");
        }
        var others = handlers.Where(h => h.Wants(fields)).ToList();
        if (!fields.Has("name") && !fields.Has("notes") && others.Count == 0)
        {
            var names = new[] { "name", "notes" }.Concat(handlers.SelectMany(h => h.FieldNames));
            return ApiProblem.BadRequest("Nothing to change: send " + string.Join(", ", names));
        }
        var response = new Dictionary<string, object?> { ["id"] = id };
        var changes = new List<string>();
        if (fields.Has("name"))
        {
            if (!DeviceNames.TryNormalize(fields.String("name"), out var name, out var badName))
            {
                return badName;
            }
            device.Name = name;
            response["name"] = name;
            changes.Add("name");
        }
        if (DeviceNames.ApplyNotes(fields, device, response, changes) is { } badNotes)
        {
            return badNotes;
        }
        if (changes.Count > 0)
        {
            await audit.RecordAsync(db, AuditEventType.ProductDeviceUpdated, AuditActor.From(context, context.Caller().UserId, context.Caller().Username),
                ProductAccess.ProductSubject(product.Id), $"device {id}: changed {string.Join(", ", changes)}", context.RequestAborted);
        }
        foreach (var handler in others)
        {
            if (await handler.ApplyAsync(fields, context, product, id, response) is { } problem)
            {
                return problem;
            }
        }
        response["updated_at"] = DeviceView.Time(clock.GetUtcNow().UtcDateTime);
        return TypedResults.Json(response, ApiJson.Options);
    }
}
