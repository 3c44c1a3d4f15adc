using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Audit;

/// <summary><c>GET /v1/user/audit</c>: the security events about the signed-in account, newest first.</summary>
public static class AuditEndpoints
{
    public static IServiceCollection AddAudit(this IServiceCollection services) => services.AddSingleton<AuditLog>();

    public static IEndpointRouteBuilder MapAuditEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/user/audit", ListAsync).RequireAuthorization();
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext context, BulwarkDbContext db, int? limit, long? before, string? @event)
    {
        var userId = context.User.UserId();
        var take = Math.Clamp(limit ?? 100, 1, 1000);
        var query = db.AuditEvents.AsNoTracking().Where(e => e.ActorId == userId || e.SubjectId == userId);
        if (before is { } b)
        {
            query = query.Where(e => e.Id < b);
        }
        if (!string.IsNullOrEmpty(@event))
        {
            if (!Enum.TryParse<AuditEventType>(@event, ignoreCase: true, out var type))
            {
                return ApiProblem.BadRequest($"Unknown event type '{@event}'");
            }
            query = query.Where(e => e.Type == (int)type);
        }
        var rows = await query.OrderByDescending(e => e.Id).Take(take).ToListAsync(context.RequestAborted);
        return TypedResults.Json(new AuditLogResponse(rows.Select(ToResponse).ToList()), ApiJson.Options);
    }

    internal static AuditEventResponse ToResponse(AuditEvent e) => new(
        e.Id, e.OccurredAt, e.Type, Enum.IsDefined((AuditEventType)e.Type) ? ((AuditEventType)e.Type).ToString() : e.Type.ToString(System.Globalization.CultureInfo.InvariantCulture),
        e.ActorId, e.ActorName, e.SubjectId, e.IpAddress, e.Details);
}
