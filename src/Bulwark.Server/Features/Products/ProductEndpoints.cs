using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Products;

/// <summary>Products: <c>GET /v1/products</c> (particle-api-js <c>listProducts</c>), <c>GET|POST /v1/user/products</c>,
/// <c>GET|POST /v1/orgs/:orgIdOrSlug/products</c>, <c>GET|PUT /v1/products/:productIdOrSlug</c>, the product's audit log
/// and the platform table.</summary>
public static class ProductEndpoints
{
    public static IServiceCollection AddProducts(this IServiceCollection services) => services;

    public static IEndpointRouteBuilder MapProductEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/products", ListVisibleAsync).RequirePermission(RequiredPermission.AnyCaller);
        app.MapGet("/v1/user/products", ListVisibleAsync).RequirePermission(RequiredPermission.PeopleOnly);
        app.MapPost("/v1/user/products", CreateProductCommand.ForUserAsync).RequirePermission(RequiredPermission.PeopleOnly);
        app.MapGet("/v1/platforms", ListPlatforms).RequirePermission(RequiredPermission.AnyCaller);

        app.MapGet("/v1/orgs/{orgIdOrSlug}/products", ListOrganizationProductsAsync).RequirePermission(Scopes.ProductsList);
        app.MapPost("/v1/orgs/{orgIdOrSlug}/products", CreateProductCommand.ForOrganizationAsync).RequirePermission(Scopes.ProductsCreate);

        var product = app.MapGroup("/v1/products/{productIdOrSlug}");
        product.MapGet("", GetAsync).RequirePermission(Scopes.ProductsGet);
        product.MapPut("", UpdateProductCommand.HandleAsync).RequirePermission(Scopes.ProductsUpdate);
        product.MapGet("/audit", (HttpContext context, BulwarkDbContext db) =>
            ResourceAudit.ListAsync(context, db, [context.Grant().AuditSubject])).RequirePermission(Scopes.AuditList);
        return app;
    }

    private static async Task<IResult> ListVisibleAsync(HttpContext context, BulwarkDbContext db, ProductAccess access)
    {
        var products = await access.VisibleProductsAsync(context.Caller(), context.RequestAborted);
        return TypedResults.Json(new ProductListResponse(await ToResponsesAsync(db, products, context.RequestAborted)), ApiJson.Options);
    }

    private static async Task<IResult> ListOrganizationProductsAsync(HttpContext context, BulwarkDbContext db)
    {
        var org = context.Grant().Organization!;
        var products = await db.Products.AsNoTracking().Where(p => p.OrganizationId == org.Id).OrderBy(p => p.Id).ToListAsync(context.RequestAborted);
        return TypedResults.Json(new ProductListResponse(await ToResponsesAsync(db, products, context.RequestAborted)), ApiJson.Options);
    }

    private static async Task<IResult> GetAsync(HttpContext context, BulwarkDbContext db)
    {
        var product = context.Grant().Product!;
        return TypedResults.Json(new ProductEnvelope((await ToResponsesAsync(db, [product], context.RequestAborted))[0]), ApiJson.Options);
    }

    private static IResult ListPlatforms() => TypedResults.Json(
        Platforms.All.Select(p => new PlatformResponse(p.Id, p.Name, p.DisplayName, p.ProductEligible, p.Hardware.Select(h => h.Key).ToList())).ToList(),
        ApiJson.Options);

    internal static async Task<List<ProductResponse>> ToResponsesAsync(BulwarkDbContext db, IReadOnlyList<Product> products, CancellationToken cancellationToken)
    {
        var ownerIds = products.Where(p => p.OwnerUserId is not null).Select(p => p.OwnerUserId!).Distinct().ToList();
        var orgIds = products.Where(p => p.OrganizationId is not null).Select(p => p.OrganizationId!).Distinct().ToList();
        var owners = await db.Users.AsNoTracking().Where(u => ownerIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Username, cancellationToken);
        var orgs = await db.Organizations.AsNoTracking().Where(o => orgIds.Contains(o.Id)).ToDictionaryAsync(o => o.Id, cancellationToken);
        var protectedProducts = await DeviceProtection.DeviceProtectionEndpoints.ProtectedProductsAsync(db, products.Select(p => p.Id).ToList(), cancellationToken);
        return products.Select(p =>
        {
            var org = p.OrganizationId is null ? null : orgs.GetValueOrDefault(p.OrganizationId);
            var quarantine = p.UnrecognizedDevicePolicy == UnrecognizedDevicePolicy.Quarantine;
            return new ProductResponse(p.Id, p.PlatformId, p.Name, p.Slug, p.Description, p.Hardware,
                p.OwnerUserId is null ? null : owners.GetValueOrDefault(p.OwnerUserId),
                org?.Slug, org?.Id, org?.Id,
                SubscriptionId: null, MbLimit: null, Groups: [],
                new ProductSettingsResponse(new OptInSetting(p.LocationOptIn), new OptInSetting(p.KnownApplicationOptIn), quarantine, p.UnrecognizedDevicePolicy),
                DeviceProtection: protectedProducts.Contains(p.Id) ? "active" : "disabled", RequiresActivationCodes: false, p.CreatedAt);
        }).ToList();
    }
}

/// <summary>What happens to a device the product has no record of when it connects with the product's id.</summary>
public static class UnrecognizedDevicePolicy
{
    /// <summary>Held with limited rights until someone approves it (the default: Particle's recommendation).</summary>
    public const string Quarantine = "quarantine";

    /// <summary>Added to the product at once.</summary>
    public const string AutoApprove = "auto-approve";

    public static string? Parse(string? text) => (text ?? "").Trim().ToLowerInvariant().Replace('_', '-') switch
    {
        "quarantine" => Quarantine,
        "auto-approve" or "autoapprove" or "approve" => AutoApprove,
        _ => null,
    };
}
