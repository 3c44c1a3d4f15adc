using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Products;

/// <summary>Creates a product: <c>POST /v1/user/products</c> (owned by the caller, who becomes its Owner) or
/// <c>POST /v1/orgs/:org/products</c> (owned by the organization, whose members reach it by their organization role).
/// Body <c>{product: {name, platform_id, description?, hardware?, slug?, settings?}}</c> (or the same fields at the top).</summary>
public static class CreateProductCommand
{
    public static Task<IResult> ForUserAsync(HttpContext context, BulwarkDbContext db, AuditLog audit, TimeProvider clock) =>
        CreateAsync(context, db, audit, clock, organization: null);

    public static Task<IResult> ForOrganizationAsync(HttpContext context, BulwarkDbContext db, AuditLog audit, TimeProvider clock) =>
        CreateAsync(context, db, audit, clock, context.Grant().Organization);

    private static async Task<IResult> CreateAsync(HttpContext context, BulwarkDbContext db, AuditLog audit, TimeProvider clock, Organization? organization)
    {
        var caller = context.Caller();
        var body = await RequestFields.ReadAsync(context.Request);
        var fields = body.Object("product") ?? body;
        var name = fields.String("name")?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100)
        {
            return ApiProblem.BadRequest("product.name is required (1 to 100 characters)");
        }
        if (fields.Long("platform_id") is not { } platformId || platformId is < 0 or > int.MaxValue)
        {
            return ApiProblem.BadRequest("product.platform_id is required: the numeric platform id (for example 13 for Boron, 32 for P2 / Photon 2)");
        }
        var choice = Platforms.Choose((int)platformId, fields.String("hardware"));
        if (!choice.Accepted)
        {
            return ApiProblem.BadRequest(choice.Error!, "invalid_platform");
        }
        var description = fields.String("description")?.Trim();
        if (description is { Length: > 1000 })
        {
            return ApiProblem.BadRequest("product.description is too long (at most 1000 characters)");
        }
        var settings = ProductSettingsInput.Read(fields.Object("settings"));
        if (settings.Error is not null)
        {
            return ApiProblem.BadRequest(settings.Error);
        }

        string slug;
        var explicitSlug = fields.String("slug")?.Trim().ToLowerInvariant();
        if (!string.IsNullOrEmpty(explicitSlug))
        {
            if (Slugs.Problem(explicitSlug) is { } problem)
            {
                return ApiProblem.BadRequest(problem, "invalid_slug");
            }
            if (await db.Products.AnyAsync(p => p.Slug == explicitSlug, context.RequestAborted))
            {
                return SlugTaken(explicitSlug);
            }
            slug = explicitSlug;
        }
        else
        {
            slug = await FreeSlugAsync(db, Slugs.FromName(name) ?? "product", context.RequestAborted);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        Product? product = null;
        for (var attempt = 0; product is null; attempt++)
        {
            var candidate = new Product
            {
                Id = await NextIdAsync(db, context.RequestAborted),
                Slug = slug,
                Name = name,
                Description = string.IsNullOrEmpty(description) ? null : description,
                PlatformId = choice.Platform!.Id,
                Hardware = choice.Hardware!.Key,
                OwnerUserId = organization is null ? caller.UserId : null,
                OrganizationId = organization?.Id,
                UnrecognizedDevicePolicy = settings.Policy ?? UnrecognizedDevicePolicy.Quarantine,
                LocationOptIn = settings.LocationOptIn ?? false,
                KnownApplicationOptIn = settings.KnownApplicationOptIn ?? false,
                CreatedAt = now,
            };
            db.Products.Add(candidate);
            if (organization is null)
            {
                db.TeamMembers.Add(new TeamMember
                {
                    Id = Ids.New(),
                    ProductId = candidate.Id,
                    UserId = caller.UserId,
                    Role = TeamRole.Owner.Id(),
                    CreatedAt = now,
                    CreatedById = caller.UserId,
                });
            }
            try
            {
                // The product, its Owner and the audit event are saved together or not at all.
                await audit.RecordAsync(db, context, AuditEventType.ProductCreated, ProductAccess.ProductSubject(candidate.Id), caller.UserId, caller.Username,
                    new Dictionary<string, object?>
                    {
                        ["name"] = candidate.Name,
                        ["slug"] = candidate.Slug,
                        ["platform_id"] = candidate.PlatformId,
                        ["hardware"] = candidate.Hardware,
                        ["organization_id"] = candidate.OrganizationId,
                        ["unrecognized_devices"] = candidate.UnrecognizedDevicePolicy,
                    });
                product = candidate;
            }
            catch (DbUpdateException) when (attempt < 5)
            {
                // Another product took the id or the slug between our check and our insert.
                db.ChangeTracker.Clear();
                if (await db.Products.AnyAsync(p => p.Slug == slug, context.RequestAborted))
                {
                    return SlugTaken(slug);
                }
            }
        }
        var response = (await ProductEndpoints.ToResponsesAsync(db, [product], context.RequestAborted))[0];
        return TypedResults.Json(new ProductEnvelope(response), ApiJson.Options, statusCode: 201);
    }

    /// <summary>The next product id: sequential like Particle's, from 1001 (ids below could be mistaken for platform ids).</summary>
    private static async Task<int> NextIdAsync(BulwarkDbContext db, CancellationToken cancellationToken)
    {
        var max = await db.Products.AsNoTracking().MaxAsync(p => (int?)p.Id, cancellationToken) ?? 1000;
        return max >= 65535
            ? throw new ApiRequestException(507, "product_limit", "This server has used every product id (1001-65535)")
            : Math.Max(max + 1, 1001);
    }

    private static async Task<string> FreeSlugAsync(BulwarkDbContext db, string baseSlug, CancellationToken cancellationToken)
    {
        var taken = await db.Products.AsNoTracking().Where(p => p.Slug == baseSlug || p.Slug.StartsWith(baseSlug + "-"))
            .Select(p => p.Slug).ToListAsync(cancellationToken);
        var set = taken.ToHashSet(StringComparer.Ordinal);
        if (!set.Contains(baseSlug) && Slugs.IsValid(baseSlug))
        {
            return baseSlug;
        }
        for (var n = 2; ; n++)
        {
            var candidate = $"{baseSlug}-{n}";
            if (!set.Contains(candidate))
            {
                return candidate;
            }
        }
    }

    private static IResult SlugTaken(string slug) =>
        ApiProblem.Conflict($"The slug '{slug}' is already used by another product; choose another", "slug_taken");
}

/// <summary>The <c>settings</c> object of a product create or update.</summary>
internal sealed record ProductSettingsInput(string? Policy, bool? LocationOptIn, bool? KnownApplicationOptIn, string? Error)
{
    public bool Any => Policy is not null || LocationOptIn is not null || KnownApplicationOptIn is not null;

    /// <summary>Reads <c>unrecognized_devices</c> (<c>quarantine</c> | <c>auto-approve</c>) or Particle's boolean
    /// <c>quarantine</c>, <c>location.opt_in</c> and <c>known_application.opt_in</c>.</summary>
    public static ProductSettingsInput Read(RequestFields? settings)
    {
        if (settings is null)
        {
            return new(null, null, null, null);
        }
        string? policy = null;
        if (settings.String("unrecognized_devices") is { } text)
        {
            policy = UnrecognizedDevicePolicy.Parse(text);
            if (policy is null)
            {
                return new(null, null, null, $"settings.unrecognized_devices must be '{UnrecognizedDevicePolicy.Quarantine}' or '{UnrecognizedDevicePolicy.AutoApprove}'");
            }
        }
        if (settings.Bool("quarantine") is { } quarantine)
        {
            var fromBool = quarantine ? UnrecognizedDevicePolicy.Quarantine : UnrecognizedDevicePolicy.AutoApprove;
            if (policy is not null && policy != fromBool)
            {
                return new(null, null, null, "settings.quarantine and settings.unrecognized_devices disagree");
            }
            policy = fromBool;
        }
        return new(policy, settings.Object("location")?.Bool("opt_in"), settings.Object("known_application")?.Bool("opt_in"), null);
    }
}
