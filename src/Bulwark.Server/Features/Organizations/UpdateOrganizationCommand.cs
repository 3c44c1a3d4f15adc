using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Organizations;

/// <summary><c>PUT /v1/orgs/:orgIdOrSlug {name?, require_mfa?}</c>. Turning on <c>require_mfa</c> refuses every human
/// member without two-step authentication until they enable it; the caller must have it on first, so they cannot lock
/// themselves out.</summary>
public static class UpdateOrganizationCommand
{
    public static async Task<IResult> HandleAsync(HttpContext context, BulwarkDbContext db, AuditLog audit)
    {
        var grant = context.Grant();
        var fields = await RequestFields.ReadAsync(context.Request);
        var body = fields.Object("organization") ?? fields;
        var org = await db.Organizations.FirstAsync(o => o.Id == grant.Organization!.Id, context.RequestAborted);
        var changes = new Dictionary<string, object?>();
        if (body.String("name")?.Trim() is { } name && name != org.Name)
        {
            if (name.Length is 0 or > 100)
            {
                return ApiProblem.BadRequest("name must be 1 to 100 characters");
            }
            changes["name"] = new[] { org.Name, name };
            org.Name = name;
        }
        if (body.String("slug") is { } slug && !string.Equals(slug.Trim(), org.Slug, StringComparison.OrdinalIgnoreCase))
        {
            return ApiProblem.BadRequest("An organization's slug cannot change", "invalid_slug");
        }
        if (body.Bool("require_mfa") is { } requireMfa && requireMfa != org.RequireMfa)
        {
            if (requireMfa && !grant.Caller.IsApiUser && !grant.Caller.MfaEnabled)
            {
                return ApiProblem.BadRequest("Enable two-step authentication on your own account before requiring it of the organization", "mfa_not_enabled");
            }
            changes["require_mfa"] = new[] { org.RequireMfa, requireMfa };
            org.RequireMfa = requireMfa;
        }
        if (changes.Count == 0 && !body.Has("name") && !body.Has("require_mfa"))
        {
            return ApiProblem.BadRequest("Nothing to update: send name or require_mfa");
        }
        if (changes.Count > 0)
        {
            await audit.RecordAsync(db, context, AuditEventType.OrganizationUpdated, grant.AuditSubject, grant.Caller.UserId, grant.Caller.Username, changes);
        }
        return TypedResults.Json(new OrganizationEnvelope(OrganizationEndpoints.ToResponse(org)), ApiJson.Options);
    }
}
