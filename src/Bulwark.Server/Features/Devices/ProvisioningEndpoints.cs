using System.Security.Cryptography;
using System.Text.Json;
using Bulwark.Protocol;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Gateway;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Devices;

/// <summary>Registering device keys: <c>POST /v1/provisioning/:deviceId</c> for one device, <c>POST /v1/provisioning</c>
/// with <c>{devices:[{id, publicKey, algorithm}]}</c> for a manufacturing batch. Registering a key never claims.</summary>
public static class ProvisioningEndpoints
{
    public const int MaxBatch = 5000;

    public static IEndpointRouteBuilder MapProvisioningEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/provisioning").RequireAuthorization();
        group.MapPost("/{deviceId}", RegisterOneAsync);
        group.MapPost("", RegisterBatchAsync);
        return app;
    }

    private static async Task<IResult> RegisterOneAsync(string deviceId, HttpContext context, BulwarkDbContext db, DeviceStore store,
        AuditLog audit, TimeProvider clock)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var outcome = await RegisterAsync(db, context, deviceId, fields.String("publicKey") ?? fields.String("public_key"),
            fields.String("algorithm"), clock);
        if (outcome.Error is not null)
        {
            return outcome.Status == 404 ? ApiProblem.NotFound(outcome.Error)
                : outcome.Status == 409 ? ApiProblem.Conflict(outcome.Error, "key_conflict")
                : ApiProblem.BadRequest(outcome.Error);
        }
        if (outcome.Changed)
        {
            await audit.RecordAsync(db, AuditEventType.DeviceKeyRegistered, AuditActor.From(context, context.User.UserId(), context.User.Username()),
                outcome.Id, outcome.Algorithm, context.RequestAborted);
            store.Invalidate(outcome.Id!);
        }
        return TypedResults.Json(new { ok = true, id = outcome.Id, device_id = outcome.Id, algorithm = outcome.Algorithm });
    }

    private static async Task<IResult> RegisterBatchAsync(HttpContext context, BulwarkDbContext db, DeviceStore store, AuditLog audit,
        TimeProvider clock)
    {
        if (context.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) != true)
        {
            return ApiProblem.Create(415, "unsupported_media_type", "Send the batch as application/json {devices:[{id, publicKey, algorithm}]}");
        }
        JsonDocument body;
        try
        {
            using var limited = new MemoryStream();
            await context.Request.Body.CopyToAsync(limited, context.RequestAborted);
            if (limited.Length > 16 * 1024 * 1024)
            {
                return ApiProblem.Create(413, "payload_too_large", "The batch is too large");
            }
            body = JsonDocument.Parse(limited.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            return ApiProblem.BadRequest("Malformed JSON body: " + e.Message);
        }
        using (body)
        {
            if (body.RootElement.ValueKind != JsonValueKind.Object || !body.RootElement.TryGetProperty("devices", out var list)
                || list.ValueKind != JsonValueKind.Array)
            {
                return ApiProblem.BadRequest("The body must be {devices:[{id, publicKey, algorithm}]}");
            }
            if (list.GetArrayLength() > MaxBatch)
            {
                return ApiProblem.BadRequest($"At most {MaxBatch} devices per batch");
            }
            var imported = new List<string>();
            var errors = new List<object>();
            foreach (var item in list.EnumerateArray())
            {
                string? Text(string name) => item.ValueKind == JsonValueKind.Object && item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                var id = Text("id") ?? Text("deviceId") ?? Text("device_id") ?? "";
                var outcome = await RegisterAsync(db, context, id, Text("publicKey") ?? Text("public_key"), Text("algorithm"), clock);
                if (outcome.Error is not null)
                {
                    errors.Add(new { id, error = outcome.Error });
                    db.ChangeTracker.Clear();
                    continue;
                }
                if (outcome.Changed)
                {
                    await audit.RecordAsync(db, AuditEventType.DeviceKeyRegistered, AuditActor.From(context, context.User.UserId(), context.User.Username()),
                        outcome.Id, outcome.Algorithm + " (batch)", context.RequestAborted);
                    store.Invalidate(outcome.Id!);
                }
                imported.Add(outcome.Id!);
                // Saved (or unchanged): forget it, or every later save would scan all earlier devices of the batch.
                db.ChangeTracker.Clear();
            }
            return TypedResults.Json(new { ok = errors.Count == 0, imported = imported.Count, devices = imported, errors });
        }
    }

    private sealed record Outcome(string? Id, string? Algorithm, bool Changed, string? Error, int Status = 400);

    /// <summary>Adds or confirms one key. A key already registered to a device can be replaced only by the device's owner:
    /// otherwise anyone who learned an ID could take over the device's identity.</summary>
    private static async Task<Outcome> RegisterAsync(BulwarkDbContext db, HttpContext context, string rawId, string? pem, string? algorithm,
        TimeProvider clock)
    {
        var id = rawId.Trim().ToLowerInvariant();
        if (!DeviceId.TryParse(id, out _))
        {
            return new(id, null, false, "The device ID must be 24 hexadecimal characters");
        }
        if (string.IsNullOrWhiteSpace(pem))
        {
            return new(id, null, false, "publicKey is required (PEM)");
        }
        algorithm = string.IsNullOrEmpty(algorithm) ? "rsa" : algorithm.ToLowerInvariant();
        string normalized;
        switch (algorithm)
        {
            case "rsa":
                try
                {
                    normalized = DevicePublicKey.FromPem(pem).ToPem();
                }
                catch (Exception e) when (e is ArgumentException or CryptographicException or FormatException)
                {
                    return new(id, algorithm, false, "publicKey is not an RSA-1024 public key with e = 65537 in PEM form");
                }
                break;
            case "ecc":
            case "ec":
                algorithm = "ecc";
                try
                {
                    using var ec = ECDsa.Create();
                    ec.ImportFromPem(pem);
                    if (ec.KeySize != 256)
                    {
                        return new(id, algorithm, false, "publicKey must be an EC P-256 key");
                    }
                    normalized = PemEncoding.WriteString("PUBLIC KEY", ec.ExportSubjectPublicKeyInfo());
                }
                catch (Exception e) when (e is ArgumentException or CryptographicException)
                {
                    return new(id, algorithm, false, "publicKey is not an EC P-256 public key in PEM form");
                }
                break;
            default:
                return new(id, algorithm, false, "algorithm must be rsa or ecc");
        }
        var userId = context.User.UserId();
        var device = await db.Devices.FirstOrDefaultAsync(d => d.Id == id, context.RequestAborted);
        if (device is null)
        {
            device = new Device { Id = id, CreatedAt = clock.GetUtcNow().UtcDateTime };
            db.Devices.Add(device);
        }
        else if (device.OwnerUserId is not null && device.OwnerUserId != userId)
        {
            return new(id, algorithm, false, "Device not found", 404);
        }
        var current = algorithm == "rsa" ? device.PublicKeyPem : device.EcPublicKeyPem;
        if (current == normalized)
        {
            return new(id, algorithm, false, null);
        }
        if (current is not null && device.OwnerUserId is null)
        {
            return new(id, algorithm, false, "A different key is already registered for this device; claim it first to replace the key", 409);
        }
        if (algorithm == "rsa")
        {
            device.PublicKeyPem = normalized;
        }
        else
        {
            device.EcPublicKeyPem = normalized;
        }
        return new(id, algorithm, true, null);
    }
}
