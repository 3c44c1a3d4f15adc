using System.Text.RegularExpressions;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Gateway.Ota;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Groups;

/// <summary>Device groups of a product (particle-api.md 5.2): list (optionally by partial name), get, create, rename or
/// describe, delete. Deleting a group that had a release sends its members back to the product default.</summary>
public static partial class GroupEndpoints
{
    public const int MaxNameLength = 64;

    public static IEndpointRouteBuilder MapGroupEndpoints(this IEndpointRouteBuilder app)
    {
        var groups = app.MapGroup("/v1/products/{productIdOrSlug}/groups");
        groups.MapGet("", ListAsync).RequirePermission(Scopes.GroupsList);
        groups.MapPost("", CreateAsync).RequirePermission(Scopes.GroupsCreate);
        groups.MapGet("/{groupName}", GetAsync).RequirePermission(Scopes.GroupsGet);
        groups.MapPut("/{groupName}", UpdateAsync).RequirePermission(Scopes.GroupsUpdate);
        groups.MapDelete("/{groupName}", DeleteAsync).RequirePermission(Scopes.GroupsRemove);
        return app;
    }

    /// <summary>Lowercase letters, digits, '-' and '_', as Particle allows.</summary>
    public static bool IsValidName(string name) => name.Length is > 0 and <= MaxNameLength && NamePattern().IsMatch(name);

    private static async Task<IResult> ListAsync(HttpContext context, BulwarkDbContext db)
    {
        var product = context.Grant().Product!;
        var filter = context.Request.Query["name"].ToString().Trim().ToLowerInvariant();
        var query = db.DeviceGroups.AsNoTracking().Where(g => g.ProductId == product.Id);
        if (filter.Length > 0)
        {
            query = query.Where(g => g.Name.Contains(filter));
        }
        var rows = await query.OrderBy(g => g.Name).ToListAsync(context.RequestAborted);
        return TypedResults.Json(new DeviceGroupListResponse(await ViewAsync(db, rows, context.RequestAborted)), ApiJson.Options);
    }

    private static async Task<IResult> GetAsync(string groupName, HttpContext context, BulwarkDbContext db)
    {
        var group = await FindAsync(db, context, groupName, tracking: false);
        return group is null ? GroupNotFound(groupName)
            : TypedResults.Json(new DeviceGroupEnvelope((await ViewAsync(db, [group], context.RequestAborted))[0]), ApiJson.Options);
    }

    private static async Task<IResult> CreateAsync(HttpContext context, BulwarkDbContext db, AuditLog audit, TimeProvider clock)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var product = context.Grant().Product!;
        var name = fields.String("name")?.Trim() ?? "";
        if (!IsValidName(name))
        {
            return ApiProblem.BadRequest($"The group name must be 1 to {MaxNameLength} lowercase letters, digits, '-' or '_'");
        }
        if (Check(fields) is { } problem)
        {
            return problem;
        }
        if (await db.DeviceGroups.AnyAsync(g => g.ProductId == product.Id && g.Name == name, context.RequestAborted))
        {
            return ApiProblem.Conflict($"A group named '{name}' already exists", "group_exists");
        }
        var group = new DeviceGroup
        {
            Id = Ids.New(),
            ProductId = product.Id,
            Name = name,
            Description = fields.String("description"),
            Color = fields.String("color"),
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        db.DeviceGroups.Add(group);
        var caller = context.Caller();
        await audit.RecordAsync(db, AuditEventType.DeviceGroupCreated, AuditActor.From(context, caller.UserId, caller.Username),
            ProductAccess.ProductSubject(product.Id), "group " + name, context.RequestAborted);
        return TypedResults.Json(new DeviceGroupEnvelope((await ViewAsync(db, [group], context.RequestAborted))[0]), ApiJson.Options, statusCode: 201);
    }

    private static async Task<IResult> UpdateAsync(string groupName, HttpContext context, BulwarkDbContext db, AuditLog audit)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var product = context.Grant().Product!;
        var group = await FindAsync(db, context, groupName, tracking: true);
        if (group is null)
        {
            return GroupNotFound(groupName);
        }
        if (!fields.Has("name") && !fields.Has("description") && !fields.Has("color"))
        {
            return ApiProblem.BadRequest("Nothing to change: send name, description or color");
        }
        if (Check(fields) is { } problem)
        {
            return problem;
        }
        var before = group.Name;
        if (fields.Has("name"))
        {
            var name = fields.String("name")!.Trim();
            if (!IsValidName(name))
            {
                return ApiProblem.BadRequest($"The group name must be 1 to {MaxNameLength} lowercase letters, digits, '-' or '_'");
            }
            if (name != group.Name && await db.DeviceGroups.AnyAsync(g => g.ProductId == product.Id && g.Name == name, context.RequestAborted))
            {
                return ApiProblem.Conflict($"A group named '{name}' already exists", "group_exists");
            }
            group.Name = name;
        }
        if (fields.Has("description"))
        {
            group.Description = fields.String("description");
        }
        if (fields.Has("color"))
        {
            group.Color = fields.String("color");
        }
        var caller = context.Caller();
        await audit.RecordAsync(db, AuditEventType.DeviceGroupUpdated, AuditActor.From(context, caller.UserId, caller.Username),
            ProductAccess.ProductSubject(product.Id), before == group.Name ? "group " + before : $"group {before} renamed {group.Name}", context.RequestAborted);
        return TypedResults.Json(new DeviceGroupEnvelope((await ViewAsync(db, [group], context.RequestAborted))[0]), ApiJson.Options);
    }

    private static async Task<IResult> DeleteAsync(string groupName, HttpContext context, BulwarkDbContext db, AuditLog audit, OtaScheduler ota)
    {
        var product = context.Grant().Product!;
        var group = await FindAsync(db, context, groupName, tracking: true);
        if (group is null)
        {
            return GroupNotFound(groupName);
        }
        var members = await db.DeviceGroupMembers.Where(m => m.GroupId == group.Id).Select(m => m.DeviceId).ToListAsync(context.RequestAborted);
        await db.DeviceGroupMembers.Where(m => m.GroupId == group.Id).ExecuteDeleteAsync(context.RequestAborted);
        db.DeviceGroups.Remove(group);
        var caller = context.Caller();
        await audit.RecordAsync(db, AuditEventType.DeviceGroupDeleted, AuditActor.From(context, caller.UserId, caller.Username),
            ProductAccess.ProductSubject(product.Id), $"group {group.Name} ({members.Count} devices)", context.RequestAborted);
        if (group.FirmwareVersion is not null)
        {
            foreach (var id in members)
            {
                ota.RequestDevice(id);
            }
        }
        return TypedResults.NoContent();
    }

    private static IResult? Check(RequestFields fields)
    {
        if (fields.String("description") is { Length: > 1000 })
        {
            return ApiProblem.BadRequest("The description is limited to 1000 characters");
        }
        if (fields.String("color") is { } color && !ColorPattern().IsMatch(color))
        {
            return ApiProblem.BadRequest("The color must be #rrggbb");
        }
        return null;
    }

    private static Task<DeviceGroup?> FindAsync(BulwarkDbContext db, HttpContext context, string groupName, bool tracking)
    {
        var product = context.Grant().Product!;
        var name = groupName.Trim().ToLowerInvariant();
        var query = tracking ? db.DeviceGroups : db.DeviceGroups.AsNoTracking();
        return query.FirstOrDefaultAsync(g => g.ProductId == product.Id && g.Name == name, context.RequestAborted);
    }

    internal static async Task<List<DeviceGroupResponse>> ViewAsync(BulwarkDbContext db, IReadOnlyList<DeviceGroup> groups, CancellationToken cancellationToken)
    {
        var ids = groups.Select(g => g.Id).ToList();
        var counts = await db.DeviceGroupMembers.AsNoTracking().Where(m => ids.Contains(m.GroupId)).GroupBy(m => m.GroupId)
            .Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(x => x.Key, x => x.Count, cancellationToken);
        return groups.Select(g => new DeviceGroupResponse(g.Name, g.Description, g.Color, g.FirmwareVersion, counts.GetValueOrDefault(g.Id))).ToList();
    }

    private static IResult GroupNotFound(string name) => ApiProblem.NotFound($"Group '{name}' not found");

    [GeneratedRegex("^[a-z0-9_-]+$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^#[0-9a-fA-F]{6}$")]
    private static partial Regex ColorPattern();
}
