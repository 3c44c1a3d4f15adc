using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Admission;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Gateway;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.ProductDevices;

/// <summary><c>POST /v1/products/:p/devices</c> (devices:import; particle-api.md 3.3, 3.4): adds devices to the product
/// from <c>{id}</c>, <c>{ids:[…]}</c> or a multipart <c>file</c> of device IDs or serial numbers. Approving a quarantined
/// or denied device is the same call. All or nothing: one transaction, and a malformed file is refused with a per-line
/// report before anything is written. Unknown device IDs are pre-added (a row without keys; provisioning adds them).</summary>
public static class ImportProductDevicesCommand
{
    public const long MaxFileBytes = 32L * 1024 * 1024;
    private const int MaxAuditedApprovals = 50;

    public static async Task<IResult> HandleAsync(HttpContext context, BulwarkDbContext db, DeviceAdmission admission,
        IDeviceConnectionRegistry registry, AuditLog audit, TimeProvider clock)
    {
        var request = context.Request;
        List<DeviceIdentifier> identifiers;
        var invalid = new List<string>();
        if (request.HasFormContentType && request.ContentType?.Contains("multipart", StringComparison.OrdinalIgnoreCase) == true)
        {
            var form = await request.ReadFormAsync(context.RequestAborted);
            var file = form.Files.GetFile("file") ?? form.Files.FirstOrDefault();
            if (file is null)
            {
                return ApiProblem.BadRequest("Send the device IDs or serial numbers as a multipart field named file, one a line");
            }
            if (file.Length > MaxFileBytes)
            {
                return ApiProblem.Create(413, "payload_too_large", $"The file is limited to {MaxFileBytes / (1024 * 1024)} MB");
            }
            using var buffer = new MemoryStream((int)file.Length);
            await file.CopyToAsync(buffer, context.RequestAborted);
            var parsed = DeviceIdentifierFile.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            if (!parsed.IsValid)
            {
                return TypedResults.Json(new Dictionary<string, object?>
                {
                    ["error"] = "invalid_file",
                    ["error_description"] = $"Nothing was imported: {parsed.ProblemCount} line(s) of the file are not device IDs or serial numbers",
                    ["problem_count"] = parsed.ProblemCount,
                    ["lines"] = parsed.Problems.Select(p => new { line = p.Line, value = p.Value, problem = p.Problem }).ToList(),
                }, ApiJson.Options, statusCode: 400);
            }
            identifiers = parsed.Identifiers.ToList();
        }
        else
        {
            var fields = await RequestFields.ReadAsync(request);
            var values = fields.StringList("ids")?.ToList() ?? [];
            if (fields.String("id") is { Length: > 0 } one)
            {
                values.Add(one);
            }
            if (values.Count == 0)
            {
                return ApiProblem.BadRequest("Send id, ids or a file of device IDs");
            }
            identifiers = [];
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var value in values)
            {
                if (DeviceIdentifierFile.ParseOne(value) is { } identifier)
                {
                    if (seen.Add(identifier.Value))
                    {
                        identifiers.Add(identifier);
                    }
                }
                else
                {
                    invalid.Add(value);
                }
            }
        }
        var product = context.Grant().Product!;
        var result = await ImportAsync(db, product, identifiers, invalid, AuditActor.From(context, context.Caller().UserId, context.Caller().Username),
            admission, registry, audit, clock, context.RequestAborted);
        // An approved device that is online gets its product firmware now, not at its next connection.
        if (context.RequestServices.GetService<Gateway.Ota.OtaScheduler>() is { } ota && result["updatedDeviceIds"] is List<string> approved)
        {
            foreach (var id in approved)
            {
                ota.RequestDevice(id);
            }
        }
        return TypedResults.Json(result, ApiJson.Options);
    }

    /// <summary>The import itself, in one transaction.</summary>
    public static async Task<Dictionary<string, object>> ImportAsync(BulwarkDbContext db, Product product, IReadOnlyList<DeviceIdentifier> identifiers,
        List<string> invalid, AuditActor actor, DeviceAdmission admission, IDeviceConnectionRegistry registry, AuditLog audit, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(product);
        ArgumentNullException.ThrowIfNull(identifiers);
        ArgumentNullException.ThrowIfNull(invalid);
        ArgumentNullException.ThrowIfNull(admission);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(audit);
        var nonmember = new List<string>();
        var wanted = new List<string>(identifiers.Count);
        var serials = identifiers.Where(i => !i.IsDeviceId).Select(i => i.Value).ToList();
        if (serials.Count > 0)
        {
            var bySerial = (await db.Devices.AsNoTracking().Where(d => d.SerialNumber != null && EF.Parameter(serials).Contains(d.SerialNumber))
                    .Select(d => new { d.Id, d.SerialNumber }).ToListAsync(cancellationToken))
                .GroupBy(d => d.SerialNumber!, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.First().Id, StringComparer.OrdinalIgnoreCase);
            foreach (var serial in serials)
            {
                if (bySerial.TryGetValue(serial, out var id))
                {
                    wanted.Add(id);
                }
                else
                {
                    // No device with that serial number is known here: it cannot be pre-added by serial.
                    nonmember.Add(serial);
                }
            }
        }
        wanted.AddRange(identifiers.Where(i => i.IsDeviceId).Select(i => i.Value));
        wanted = wanted.Distinct(StringComparer.Ordinal).ToList();

        var known = await db.Devices.AsNoTracking().Where(d => EF.Parameter(wanted).Contains(d.Id))
            .Select(d => new { d.Id, d.CloudProductId, d.PlatformId }).ToDictionaryAsync(d => d.Id, cancellationToken);
        var existing = new List<string>();
        var toCreate = new List<string>();
        var toAdd = new List<string>();
        foreach (var id in wanted)
        {
            if (!known.TryGetValue(id, out var device))
            {
                toCreate.Add(id);
            }
            else if (device.CloudProductId == product.Id)
            {
                existing.Add(id);
            }
            else if (device.CloudProductId is not null || (device.PlatformId is { } platform && platform != product.PlatformId))
            {
                // In another product, or hardware this product cannot hold (particle-api.md 3.5).
                invalid.Add(id);
            }
            else
            {
                toAdd.Add(id);
            }
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var approvals = new List<(string Id, string State)>();
        var strategy = db.Database.CreateExecutionStrategy();
        await strategy.ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            if (toAdd.Count > 0)
            {
                approvals = (await db.ProductDeviceStates.AsNoTracking().Where(s => s.ProductId == product.Id && EF.Parameter(toAdd).Contains(s.DeviceId))
                    .Select(s => new { s.DeviceId, s.State }).ToListAsync(cancellationToken)).Select(s => (s.DeviceId, s.State)).ToList();
                await db.ProductDeviceStates.Where(s => s.ProductId == product.Id && EF.Parameter(toAdd).Contains(s.DeviceId)).ExecuteDeleteAsync(cancellationToken);
                // Privileges are re-decided at the device's next Hello; connected devices are re-decided below, at once.
                await db.Devices.Where(d => EF.Parameter(toAdd).Contains(d.Id) && d.CloudProductId == null)
                    .ExecuteUpdateAsync(s => s.SetProperty(d => d.CloudProductId, product.Id).SetProperty(d => d.ProductPrivileges, (string?)null),
                        cancellationToken);
            }
            if (toCreate.Count > 0)
            {
                await InsertPreAddedAsync(db, toCreate, product.Id, now, cancellationToken);
            }
            var online = toAdd.Where(id => registry.Find(id) is not null).ToList();
            var reDecided = online.Count == 0 ? [] : await db.Devices.Where(d => online.Contains(d.Id)).ToListAsync(cancellationToken);
            foreach (var device in reDecided)
            {
                device.ProductPrivileges = DeviceAdmission.PrivilegesAfterMembershipChange(device);
            }
            var listed = approvals.Where(a => a.State is ProductDeviceStates.Quarantined or ProductDeviceStates.Denied).ToList();
            foreach (var (id, state) in listed.Take(MaxAuditedApprovals))
            {
                await audit.RecordAsync(db, AuditEventType.ProductDeviceApproved, actor, ProductAccess.ProductSubject(product.Id),
                    $"approved device {id} (was {state})", cancellationToken);
            }
            var added = toAdd.Count + toCreate.Count - Math.Min(listed.Count, MaxAuditedApprovals);
            if (added > 0 || (toAdd.Count + toCreate.Count == 0 && reDecided.Count > 0))
            {
                var sample = string.Join(' ', toAdd.Concat(toCreate).Take(20));
                await audit.RecordAsync(db, AuditEventType.ProductDevicesImported, actor, ProductAccess.ProductSubject(product.Id),
                    $"added {toAdd.Count + toCreate.Count} device(s) ({toCreate.Count} pre-added before first contact): {sample}", cancellationToken);
            }
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            foreach (var device in reDecided)
            {
                admission.Refresh(device);
            }
        });
        var updated = toAdd.Concat(toCreate).ToList();
        return new Dictionary<string, object>
        {
            ["updated"] = updated.Count,
            ["updatedDeviceIds"] = updated,
            ["existingDeviceIds"] = existing,
            ["nonmemberDeviceIds"] = nonmember,
            ["invalidDeviceIds"] = invalid,
            ["protectedDeviceIds"] = Array.Empty<string>(),
        };
    }

    /// <summary>One statement for any number of rows: a 100,000-line import must take seconds, not minutes.</summary>
    private static async Task InsertPreAddedAsync(BulwarkDbContext db, List<string> ids, int productId, DateTime now, CancellationToken cancellationToken)
    {
        if (db.Database.IsNpgsql())
        {
            var array = ids.ToArray();
            await db.Database.ExecuteSqlAsync(
                $"INSERT INTO devices (id, created_at, cloud_product_id) SELECT unnest({array}), {now}, {productId}", cancellationToken);
            return;
        }
        var json = System.Text.Json.JsonSerializer.Serialize(ids);
        await db.Database.ExecuteSqlAsync(
            $"INSERT INTO devices (id, created_at, cloud_product_id) SELECT value, {now}, {productId} FROM json_each({json})", cancellationToken);
    }
}
