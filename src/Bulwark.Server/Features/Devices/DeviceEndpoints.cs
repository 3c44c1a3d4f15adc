using System.Text.RegularExpressions;
using Bulwark.Protocol;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Gateway;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Devices;

/// <summary>A user's devices: list, get, rename, claim, release, call, read, ping, signal (particle-api.md 3.2, 13).
/// Only the owner sees a device; anyone else gets 404, as if it did not exist.</summary>
public static partial class DeviceEndpoints
{
    public static IEndpointRouteBuilder MapDeviceEndpoints(this IEndpointRouteBuilder app)
    {
        var devices = app.MapGroup("/v1/devices").RequireAuthorization();
        devices.MapGet("", ListAsync);
        devices.MapPost("", ClaimAsync);
        devices.MapGet("/{deviceId}", GetAsync);
        devices.MapPut("/{deviceId}", UpdateAsync);
        devices.MapDelete("/{deviceId}", ReleaseAsync);
        devices.MapPut("/{deviceId}/ping", PingAsync);
        devices.MapPost("/{deviceId}/{function}", CallAsync);
        devices.MapGet("/{deviceId}/{variable}", ReadVariableAsync);
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext context, BulwarkDbContext db, IDeviceConnectionRegistry registry)
    {
        var userId = context.User.UserId();
        var owned = await db.Devices.AsNoTracking().Where(d => d.OwnerUserId == userId).OrderBy(d => d.Id).ToListAsync(context.RequestAborted);
        var username = context.User.Username();
        return TypedResults.Json(owned.Select(d => DeviceView.From(d, registry.Find(d.Id), username)).ToList());
    }

    private static async Task<IResult> GetAsync(string deviceId, HttpContext context, BulwarkDbContext db, IDeviceConnectionRegistry registry)
    {
        var device = await FindOwnedAsync(db, context, deviceId, tracking: false);
        return device is null ? DeviceNotFound() : TypedResults.Json(DeviceView.From(device, registry.Find(device.Id), context.User.Username()));
    }

    private static async Task<IResult> UpdateAsync(string deviceId, HttpContext context, BulwarkDbContext db, IDeviceConnectionRegistry registry,
        AuditLog audit, TimeProvider clock)
    {
        if (Firmware.FlashDeviceCommand.IsFlashRequest(context.Request))
        {
            var target = await FindOwnedAsync(db, context, deviceId, tracking: false);
            return target is null ? DeviceNotFound()
                : await Firmware.FlashDeviceCommand.HandleAsync(context, target, db, audit, context.RequestServices.GetRequiredService<Gateway.Ota.OtaScheduler>());
        }
        var fields = await RequestFields.ReadAsync(context.Request);
        var device = await FindOwnedAsync(db, context, deviceId, tracking: true);
        if (device is null)
        {
            return DeviceNotFound();
        }
        var response = new Dictionary<string, object?> { ["id"] = device.Id };
        var changes = new List<string>();
        if (fields.Has("name"))
        {
            if (!DeviceNames.TryNormalize(fields.String("name"), out var name, out var badName))
            {
                return badName;
            }
            if (await db.Devices.AnyAsync(d => d.OwnerUserId == device.OwnerUserId && d.Name == name && d.Id != device.Id, context.RequestAborted))
            {
                return ApiProblem.BadRequest("You already have a device with that name", "name_taken");
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
            await audit.RecordAsync(db, AuditEventType.DeviceUpdated, AuditActor.From(context, context.User.UserId(), context.User.Username()),
                device.Id, "changed " + string.Join(", ", changes), context.RequestAborted);
            response["updated_at"] = DeviceView.Time(clock.GetUtcNow().UtcDateTime);
        }
        if (fields.Has("signal"))
        {
            var start = fields.String("signal") is "1" or "true";
            var connection = registry.Find(device.Id);
            if (connection is null)
            {
                return DeviceOffline();
            }
            try
            {
                await connection.SignalAsync(start, context.RequestAborted);
            }
            catch (DeviceRequestException e)
            {
                return RequestFailed(e);
            }
            response["connected"] = true;
            response["signaling"] = start;
        }
        return TypedResults.Json(response);
    }

    private static async Task<IResult> ClaimAsync(HttpContext context, BulwarkDbContext db, IDeviceConnectionRegistry registry, AuditLog audit,
        TimeProvider clock)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var id = fields.Required("id").Trim().ToLowerInvariant();
        var userId = context.User.UserId();
        if (!DeviceId.TryParse(id, out _))
        {
            return ApiProblem.BadRequest("The device ID must be 24 hexadecimal characters");
        }
        var device = await db.Devices.FirstOrDefaultAsync(d => d.Id == id, context.RequestAborted);
        // A device owned by someone else answers exactly like an unknown one, so IDs cannot be probed for ownership.
        if (device is null || (device.OwnerUserId is not null && device.OwnerUserId != userId))
        {
            return ApiProblem.NotFound("Device not found, or not available to claim");
        }
        if (device.OwnerUserId is null)
        {
            device.OwnerUserId = userId;
            device.ClaimedAt = clock.GetUtcNow().UtcDateTime;
            await audit.RecordAsync(db, AuditEventType.DeviceClaimed, AuditActor.From(context, userId, context.User.Username()), id,
                cancellationToken: context.RequestAborted);
            registry.Find(id)?.SetOwner(userId);
        }
        return TypedResults.Json(new { ok = true, user_id = userId, id });
    }

    private static async Task<IResult> ReleaseAsync(string deviceId, HttpContext context, BulwarkDbContext db, IDeviceConnectionRegistry registry,
        AuditLog audit)
    {
        var device = await FindOwnedAsync(db, context, deviceId, tracking: true);
        if (device is null)
        {
            return DeviceNotFound();
        }
        device.OwnerUserId = null;
        device.ClaimedAt = null;
        await audit.RecordAsync(db, AuditEventType.DeviceReleased, AuditActor.From(context, context.User.UserId(), context.User.Username()),
            device.Id, cancellationToken: context.RequestAborted);
        registry.Find(device.Id)?.SetOwner(null);
        return TypedResults.Json(new { ok = true });
    }

    private static async Task<IResult> PingAsync(string deviceId, HttpContext context, BulwarkDbContext db, IDeviceConnectionRegistry registry)
    {
        var device = await FindOwnedAsync(db, context, deviceId, tracking: false);
        if (device is null)
        {
            return DeviceNotFound();
        }
        var connection = registry.Find(device.Id);
        var online = connection is not null && await connection.PingAsync(context.RequestAborted);
        return TypedResults.Json(new { online, ok = true });
    }

    private static async Task<IResult> CallAsync(string deviceId, string function, HttpContext context, BulwarkDbContext db,
        IDeviceConnectionRegistry registry)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var device = await FindOwnedAsync(db, context, deviceId, tracking: false);
        if (device is null)
        {
            return DeviceNotFound();
        }
        // particle-api-js sends "args"; the documentation says "arg".
        var argument = fields.String("arg") ?? fields.String("args") ?? "";
        if (argument.Length > Protocol.Messages.FunctionCallRequest.MaxArgumentLength)
        {
            return ApiProblem.BadRequest($"The argument is limited to {Protocol.Messages.FunctionCallRequest.MaxArgumentLength} characters");
        }
        var connection = registry.Find(device.Id);
        if (connection is null)
        {
            return DeviceOffline();
        }
        var functions = DeviceView.Functions(device);
        if (functions.Count > 0 && !functions.Contains(function))
        {
            return ApiProblem.NotFound($"Function {function} not found");
        }
        try
        {
            var value = await connection.CallFunctionAsync(function, argument, context.RequestAborted);
            return TypedResults.Json(new { id = device.Id, name = device.Name, connected = true, return_value = value });
        }
        catch (DeviceRequestException e)
        {
            return RequestFailed(e);
        }
    }

    private static async Task<IResult> ReadVariableAsync(string deviceId, string variable, HttpContext context, BulwarkDbContext db,
        IDeviceConnectionRegistry registry)
    {
        var device = await FindOwnedAsync(db, context, deviceId, tracking: false);
        if (device is null)
        {
            return DeviceNotFound();
        }
        var connection = registry.Find(device.Id);
        if (connection is null)
        {
            return DeviceOffline();
        }
        var variables = DeviceView.Variables(device);
        if (variables.Count > 0 && !variables.ContainsKey(variable))
        {
            return ApiProblem.NotFound($"Variable {variable} not found");
        }
        try
        {
            var raw = await connection.ReadVariableAsync(variable, context.RequestAborted);
            var result = DeviceView.DecodeVariable(variables.TryGetValue(variable, out var type) ? type : null, raw);
            if (context.Request.Query["format"] == "raw")
            {
                return TypedResults.Text(Convert.ToString(result, System.Globalization.CultureInfo.InvariantCulture) ?? "");
            }
            // Particle spells these two in camel case; a dictionary keeps the keys exactly as written.
            var coreInfo = new Dictionary<string, object?>
            {
                ["name"] = device.Name,
                ["deviceID"] = device.Id,
                ["connected"] = true,
                ["last_handshake_at"] = DeviceView.Time(device.LastHandshakeAt),
                ["last_heard"] = DeviceView.Time(connection.LastHeard),
            };
            return TypedResults.Json(new Dictionary<string, object?> { ["name"] = variable, ["result"] = result, ["coreInfo"] = coreInfo });
        }
        catch (DeviceRequestException e)
        {
            return RequestFailed(e);
        }
    }

    /// <summary>The caller's device by ID, or by name as Particle's tools also allow.</summary>
    internal static async Task<Device?> FindOwnedAsync(BulwarkDbContext db, HttpContext context, string idOrName, bool tracking)
    {
        var userId = context.User.UserId();
        var query = tracking ? db.Devices : db.Devices.AsNoTracking();
        var id = idOrName.ToLowerInvariant();
        if (DeviceId.TryParse(id, out _))
        {
            var byId = await query.FirstOrDefaultAsync(d => d.Id == id && d.OwnerUserId == userId, context.RequestAborted);
            if (byId is not null)
            {
                return byId;
            }
        }
        return await query.FirstOrDefaultAsync(d => d.Name == idOrName && d.OwnerUserId == userId, context.RequestAborted);
    }

    private static IResult DeviceNotFound() => ApiProblem.NotFound("Device not found");

    private static IResult DeviceOffline() => ApiProblem.Create(404, "device_offline", "Device is not connected");

    private static IResult RequestFailed(DeviceRequestException e) => e.Failure switch
    {
        DeviceRequestFailure.Timeout => ApiProblem.Create(408, "timed_out", "Timed out waiting for the device"),
        DeviceRequestFailure.Offline => DeviceOffline(),
        DeviceRequestFailure.NotFound => ApiProblem.NotFound(e.Message),
        _ => ApiProblem.Create(502, "device_error", e.Message),
    };
}
