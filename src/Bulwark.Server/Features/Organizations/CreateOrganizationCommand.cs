using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Accounts;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Products;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Organizations;

/// <summary><c>POST /v1/orgs {name, slug?}</c>: the caller becomes the organization's Owner. With
/// <c>Bulwark:OrganizationCreation=server-admins</c> only the usernames in <c>Bulwark:ServerAdmins</c> may do this.</summary>
public static class CreateOrganizationCommand
{
    public static async Task<IResult> HandleAsync(HttpContext context, BulwarkDbContext db, AuditLog audit, BulwarkOptions options, TimeProvider clock)
    {
        var caller = context.Caller();
        if (!options.MayCreateOrganizations(AccountEndpoints.Normalize(caller.Username)))
        {
            return ApiProblem.Forbidden("Only the server's administrators may create organizations on this server", "forbidden");
        }
        var fields = await RequestFields.ReadAsync(context.Request);
        var body = fields.Object("organization") ?? fields;
        var name = body.String("name")?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100)
        {
            return ApiProblem.BadRequest("name is required (1 to 100 characters)");
        }
        var slug = body.String("slug")?.Trim().ToLowerInvariant();
        if (!string.IsNullOrEmpty(slug))
        {
            if (Slugs.Problem(slug) is { } problem)
            {
                return ApiProblem.BadRequest(problem, "invalid_slug");
            }
        }
        else
        {
            slug = Slugs.FromName(name);
            if (slug is null)
            {
                return ApiProblem.BadRequest("Choose a slug: the name has no letters or digits to make one from", "invalid_slug");
            }
        }
        if (await db.Organizations.AnyAsync(o => o.Slug == slug, context.RequestAborted))
        {
            return SlugTaken(slug);
        }
        var now = clock.GetUtcNow().UtcDateTime;
        var org = new Organization { Id = Ids.New(), Name = name, Slug = slug, CreatedAt = now, CreatedById = caller.UserId };
        db.Organizations.Add(org);
        db.TeamMembers.Add(new TeamMember
        {
            Id = Ids.New(),
            OrganizationId = org.Id,
            UserId = caller.UserId,
            Role = TeamRole.Owner.Id(),
            CreatedAt = now,
            CreatedById = caller.UserId,
        });
        try
        {
            await audit.RecordAsync(db, context, AuditEventType.OrganizationCreated, ProductAccess.OrganizationSubject(org.Id), caller.UserId, caller.Username,
                new Dictionary<string, object?> { ["name"] = org.Name, ["slug"] = org.Slug });
        }
        catch (DbUpdateException)
        {
            return SlugTaken(slug);
        }
        return TypedResults.Json(new OrganizationEnvelope(OrganizationEndpoints.ToResponse(org)), ApiJson.Options, statusCode: 201);
    }

    private static IResult SlugTaken(string slug) =>
        ApiProblem.Conflict($"The slug '{slug}' is already used by another organization; choose another", "slug_taken");
}
