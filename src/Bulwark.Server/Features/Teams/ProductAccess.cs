using System.Globalization;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Teams;

/// <summary>The signed-in account behind a request, read from the database on every request.</summary>
public sealed record Caller(string UserId, string Username, bool IsApiUser, bool MfaEnabled);

/// <summary>What the caller may do on one product or organization, decided for this request. A person's
/// <see cref="Role"/> is the strongest of their product and organization memberships; an API user has no role and
/// exactly its scopes.</summary>
public sealed record AccessGrant(Caller Caller, Product? Product, Organization? Organization, TeamRole? Role, IReadOnlySet<string> Scopes)
{
    public bool Has(string scope) => Scopes.Contains(scope);

    /// <summary>The audit subject of the resource: <c>product:123</c> or <c>org:&lt;id&gt;</c>.</summary>
    public string AuditSubject => Product is not null
        ? ProductAccess.ProductSubject(Product.Id)
        : ProductAccess.OrganizationSubject(Organization!.Id);
}

/// <summary>The outcome of an access check: a grant, or the error to answer with.</summary>
public sealed record AccessDecision(AccessGrant? Grant, IResult? Problem)
{
    public bool Allowed => Grant is not null;
}

/// <summary>Resolves the caller's role or API-user scopes on a product or organization and answers allowed, 404 or
/// 403. Membership is read from the database on every call, never cached, so removing a member ends their access
/// on every token they hold at once. Later features call <see cref="ForProductAsync"/> (or declare
/// <c>.RequirePermission(scope)</c> on the endpoint and read <see cref="AccessGrantExtensions.Grant"/>).</summary>
public sealed class ProductAccess(BulwarkDbContext db)
{
    public const string ProductRouteParameter = "productIdOrSlug";
    public const string OrganizationRouteParameter = "orgIdOrSlug";

    public static string ProductSubject(int productId) => "product:" + productId.ToString(CultureInfo.InvariantCulture);

    public static string OrganizationSubject(string organizationId) => "org:" + organizationId;

    /// <summary>The signed-in caller, or null when the account no longer exists.</summary>
    public async Task<Caller?> CallerAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Features.Get<Caller>() is { } cached)
        {
            return cached;
        }
        // The token's validation (cached) already read who the caller is: no database round trip per request.
        if (context.User.FindFirst(Auth.AccessTokenAuthenticationHandler.ApiUserClaim)?.Value is { } apiUser
            && context.User.FindFirst(Auth.AccessTokenAuthenticationHandler.MfaClaim)?.Value is { } mfa)
        {
            var fromToken = new Caller(context.User.UserId(), context.User.Username(), apiUser == "true", mfa == "true");
            context.Features.Set(fromToken);
            return fromToken;
        }
        var userId = context.User.UserId();
        var caller = await db.Users.AsNoTracking().Where(u => u.Id == userId)
            .Select(u => new Caller(u.Id, u.Username, u.IsProgrammatic, u.MfaEnabled))
            .FirstOrDefaultAsync(context.RequestAborted);
        if (caller is not null)
        {
            context.Features.Set(caller);
        }
        return caller;
    }

    /// <summary>Finds a product by numeric id or slug.</summary>
    public Task<Product?> FindProductAsync(string idOrSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(idOrSlug);
        if (int.TryParse(idOrSlug, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return db.Products.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, cancellationToken);
        }
        var slug = idOrSlug.Trim().ToLowerInvariant();
        return db.Products.AsNoTracking().FirstOrDefaultAsync(p => p.Slug == slug, cancellationToken);
    }

    /// <summary>Finds an organization by id or slug.</summary>
    public async Task<Organization?> FindOrganizationAsync(string idOrSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(idOrSlug);
        return await db.Organizations.AsNoTracking().FirstOrDefaultAsync(o => o.Id == idOrSlug, cancellationToken)
            ?? await db.Organizations.AsNoTracking().FirstOrDefaultAsync(o => o.Slug == idOrSlug.Trim().ToLowerInvariant(), cancellationToken);
    }

    /// <summary>May the caller do <paramref name="scope"/> on this product?</summary>
    public async Task<AccessDecision> ForProductAsync(HttpContext context, string productIdOrSlug, string scope)
    {
        ArgumentNullException.ThrowIfNull(context);
        var caller = await CallerAsync(context);
        if (caller is null)
        {
            return Deny(ApiProblem.Unauthorized());
        }
        var product = await FindProductAsync(productIdOrSlug, context.RequestAborted);
        if (product is null)
        {
            return Deny(ProductNotFound());
        }
        var orgId = product.OrganizationId;
        var memberships = await db.TeamMembers.AsNoTracking()
            .Where(m => m.UserId == caller.UserId && (m.ProductId == product.Id || (orgId != null && m.OrganizationId == orgId)))
            .ToListAsync(context.RequestAborted);
        if (memberships.Count == 0)
        {
            // Not a member: the product might as well not exist.
            return Deny(ProductNotFound());
        }
        var organization = orgId is null ? null : await db.Organizations.AsNoTracking().FirstAsync(o => o.Id == orgId, context.RequestAborted);
        return Decide(caller, product, organization, memberships, scope, "product");
    }

    /// <summary>May the caller do <paramref name="scope"/> on this organization?</summary>
    public async Task<AccessDecision> ForOrganizationAsync(HttpContext context, string orgIdOrSlug, string scope)
    {
        ArgumentNullException.ThrowIfNull(context);
        var caller = await CallerAsync(context);
        if (caller is null)
        {
            return Deny(ApiProblem.Unauthorized());
        }
        var organization = await FindOrganizationAsync(orgIdOrSlug, context.RequestAborted);
        if (organization is null)
        {
            return Deny(OrganizationNotFound());
        }
        var memberships = await db.TeamMembers.AsNoTracking()
            .Where(m => m.UserId == caller.UserId && m.OrganizationId == organization.Id)
            .ToListAsync(context.RequestAborted);
        if (memberships.Count == 0)
        {
            return Deny(OrganizationNotFound());
        }
        return Decide(caller, null, organization, memberships, scope, "organization");
    }

    private static AccessDecision Decide(Caller caller, Product? product, Organization? organization, List<TeamMember> memberships,
        string scope, string what)
    {
        TeamRole? role = null;
        IReadOnlySet<string> scopes;
        if (caller.IsApiUser)
        {
            scopes = memberships.SelectMany(m => ParseScopes(m.Scopes)).Where(Teams.Scopes.IsKnown).ToHashSet(StringComparer.Ordinal);
        }
        else
        {
            role = memberships.Where(m => m.Role is not null).Select(m => TeamRoles.Parse(m.Role!)).DefaultIfEmpty(TeamRole.ViewOnly).Max();
            scopes = RolePermissions.ScopesOf(role.Value);
            if (organization is { RequireMfa: true } && !caller.MfaEnabled)
            {
                return Deny(ApiProblem.Forbidden(
                    $"The organization {organization.Name} requires two-step authentication; enable it on your account (GET /v1/user/mfa-enable) first",
                    "mfa_required_by_organization"));
            }
        }
        if (!scopes.Contains(scope))
        {
            return Deny(ApiProblem.Forbidden(role is { } r
                ? $"The {r.Name()} role does not allow {scope} on this {what}"
                : $"This API user's scopes do not include {scope}"));
        }
        return new AccessDecision(new AccessGrant(caller, product, organization, role, scopes), null);
    }

    /// <summary>Products the caller may list: through a product membership, an organization membership, or an API
    /// user's binding that includes <c>products:list</c>.</summary>
    public async Task<List<Product>> VisibleProductsAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var memberships = await db.TeamMembers.AsNoTracking().Where(m => m.UserId == caller.UserId).ToListAsync(cancellationToken);
        if (caller.IsApiUser)
        {
            memberships = memberships.Where(m => ParseScopes(m.Scopes).Contains(Teams.Scopes.ProductsList)).ToList();
        }
        var productIds = memberships.Where(m => m.ProductId is not null).Select(m => m.ProductId!.Value).ToList();
        var orgIds = memberships.Where(m => m.OrganizationId is not null).Select(m => m.OrganizationId!).ToList();
        return await db.Products.AsNoTracking()
            .Where(p => productIds.Contains(p.Id) || (p.OrganizationId != null && orgIds.Contains(p.OrganizationId)))
            .OrderBy(p => p.Id)
            .ToListAsync(cancellationToken);
    }

    public static IReadOnlyList<string> ParseScopes(string? stored) =>
        string.IsNullOrWhiteSpace(stored) ? [] : stored.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public static IResult ProductNotFound() => ApiProblem.NotFound("Product not found");

    public static IResult OrganizationNotFound() => ApiProblem.NotFound("Organization not found");

    private static AccessDecision Deny(IResult problem) => new(null, problem);
}

public static class AccessGrantExtensions
{
    /// <summary>The grant <see cref="TeamAuthorizationMiddleware"/> made for this request's <c>.RequirePermission(scope)</c>.</summary>
    public static AccessGrant Grant(this HttpContext context) =>
        context?.Features.Get<AccessGrant>() ?? throw new InvalidOperationException("This endpoint has no RequirePermission(scope) declaration");

    /// <summary>The signed-in caller resolved by <see cref="TeamAuthorizationMiddleware"/>.</summary>
    public static Caller Caller(this HttpContext context) =>
        context?.Features.Get<Caller>() ?? throw new InvalidOperationException("This endpoint has no RequirePermission declaration");
}
