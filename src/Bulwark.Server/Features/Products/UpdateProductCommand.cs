using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Products;

/// <summary><c>PUT /v1/products/:productIdOrSlug</c>: name, description and settings (the unrecognized-device policy,
/// location and known-application opt-ins). The platform and the slug never change. Every change is audited with its
/// old and new value.</summary>
public static class UpdateProductCommand
{
    public static async Task<IResult> HandleAsync(HttpContext context, BulwarkDbContext db, AuditLog audit)
    {
        var grant = context.Grant();
        var body = await RequestFields.ReadAsync(context.Request);
        var fields = body.Object("product") ?? body;
        var product = await db.Products.FirstAsync(p => p.Id == grant.Product!.Id, context.RequestAborted);
        var changes = new Dictionary<string, object?>();

        if (fields.Long("platform_id") is { } platformId && platformId != product.PlatformId)
        {
            return ApiProblem.BadRequest("A product's platform cannot change; create a new product for other hardware", "invalid_platform");
        }
        if (fields.String("slug") is { } slug && !string.Equals(slug.Trim(), product.Slug, StringComparison.OrdinalIgnoreCase))
        {
            return ApiProblem.BadRequest("A product's slug cannot change", "invalid_slug");
        }
        if (fields.String("name")?.Trim() is { } name && name != product.Name)
        {
            if (name.Length is 0 or > 100)
            {
                return ApiProblem.BadRequest("product.name must be 1 to 100 characters");
            }
            changes["name"] = new[] { product.Name, name };
            product.Name = name;
        }
        if (fields.String("description")?.Trim() is { } description && description != (product.Description ?? ""))
        {
            if (description.Length > 1000)
            {
                return ApiProblem.BadRequest("product.description is too long (at most 1000 characters)");
            }
            changes["description"] = new[] { product.Description, description };
            product.Description = description.Length == 0 ? null : description;
        }
        if (fields.Has("device_protection"))
        {
            var (problem, enabled) = await DeviceProtection.DeviceProtectionEndpoints.ApplyProductSettingAsync(context, db, audit, product, fields);
            if (problem is not null)
            {
                return problem;
            }
            if (enabled)
            {
                changes["device_protection"] = new[] { "disabled", "active" };
            }
        }
        var settings = ProductSettingsInput.Read(fields.Object("settings") ?? (fields.Has("unrecognized_devices") || fields.Has("quarantine") ? fields : null));
        if (settings.Error is not null)
        {
            return ApiProblem.BadRequest(settings.Error);
        }
        if (settings.Policy is { } policy && policy != product.UnrecognizedDevicePolicy)
        {
            changes["unrecognized_devices"] = new[] { product.UnrecognizedDevicePolicy, policy };
            product.UnrecognizedDevicePolicy = policy;
        }
        if (settings.LocationOptIn is { } location && location != product.LocationOptIn)
        {
            changes["location.opt_in"] = new[] { product.LocationOptIn, location };
            product.LocationOptIn = location;
        }
        if (settings.KnownApplicationOptIn is { } known && known != product.KnownApplicationOptIn)
        {
            changes["known_application.opt_in"] = new[] { product.KnownApplicationOptIn, known };
            product.KnownApplicationOptIn = known;
        }
        if (changes.Count == 0 && !settings.Any && !fields.Has("name") && !fields.Has("description") && !fields.Has("device_protection"))
        {
            return ApiProblem.BadRequest("Nothing to update: send name, description or settings");
        }
        if (changes.Count > 0)
        {
            await audit.RecordAsync(db, context, AuditEventType.ProductUpdated, grant.AuditSubject, grant.Caller.UserId, grant.Caller.Username, changes);
        }
        var response = (await ProductEndpoints.ToResponsesAsync(db, [product], context.RequestAborted))[0];
        return TypedResults.Json(new ProductEnvelope(response), ApiJson.Options);
    }
}
