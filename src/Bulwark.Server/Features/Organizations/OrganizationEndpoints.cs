using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Organizations;

/// <summary>Organizations: <c>GET|POST /v1/orgs</c>, <c>GET|PUT /v1/orgs/:orgIdOrSlug</c> and the organization's audit log
/// (its own events and those of its products). The organization's products and team are mapped by the Products and
/// Teams features.</summary>
public static class OrganizationEndpoints
{
    public static IServiceCollection AddOrganizations(this IServiceCollection services) => services;

    public static IEndpointRouteBuilder MapOrganizationEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/orgs", ListAsync).RequirePermission(RequiredPermission.AnyCaller);
        app.MapPost("/v1/orgs", CreateOrganizationCommand.HandleAsync).RequirePermission(RequiredPermission.PeopleOnly);
        var org = app.MapGroup("/v1/orgs/{orgIdOrSlug}");
        org.MapGet("", (HttpContext context) =>
            TypedResults.Json(new OrganizationEnvelope(ToResponse(context.Grant().Organization!)), ApiJson.Options)).RequirePermission(Scopes.OrganizationGet);
        org.MapPut("", UpdateOrganizationCommand.HandleAsync).RequirePermission(Scopes.OrganizationUpdate);
        org.MapGet("/audit", AuditAsync).RequirePermission(Scopes.AuditList);
        return app;
    }

    /// <summary>The organizations the caller belongs to (an API user: the one it was made for, when it may read it).</summary>
    private static async Task<IResult> ListAsync(HttpContext context, BulwarkDbContext db)
    {
        var caller = context.Caller();
        var memberships = await db.TeamMembers.AsNoTracking()
            .Where(m => m.UserId == caller.UserId && m.OrganizationId != null).ToListAsync(context.RequestAborted);
        var ids = memberships
            .Where(m => !caller.IsApiUser || ProductAccess.ParseScopes(m.Scopes).Contains(Scopes.OrganizationGet))
            .Select(m => m.OrganizationId!).ToList();
        var orgs = await db.Organizations.AsNoTracking().Where(o => ids.Contains(o.Id)).OrderBy(o => o.Name).ToListAsync(context.RequestAborted);
        return TypedResults.Json(new OrganizationListResponse(orgs.Select(ToResponse).ToList()), ApiJson.Options);
    }

    private static async Task<IResult> AuditAsync(HttpContext context, BulwarkDbContext db)
    {
        var org = context.Grant().Organization!;
        var productIds = await db.Products.AsNoTracking().Where(p => p.OrganizationId == org.Id).Select(p => p.Id).ToListAsync(context.RequestAborted);
        var subjects = productIds.Select(ProductAccess.ProductSubject).Append(ProductAccess.OrganizationSubject(org.Id)).ToList();
        return await ResourceAudit.ListAsync(context, db, subjects);
    }

    internal static OrganizationResponse ToResponse(Organization o) => new(o.Id, o.Slug, o.Name, o.RequireMfa, o.CreatedAt);
}
