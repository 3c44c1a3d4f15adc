namespace Bulwark.Server.Features.Teams;

/// <summary>What an endpoint demands of its caller, declared as endpoint metadata and enforced by
/// <see cref="TeamAuthorizationMiddleware"/> before the handler (and its parameter binding) runs. Every
/// <c>/v1/products/...</c> and <c>/v1/orgs/...</c> endpoint must carry one; the authorization matrix test
/// enumerates the route table and fails on any that does not.</summary>
public sealed record RequiredPermission
{
    private RequiredPermission(PermissionKind kind, string? scope)
    {
        Kind = kind;
        Scope = scope;
    }

    public PermissionKind Kind { get; }

    /// <summary>For <see cref="PermissionKind.Scope"/>: the scope the caller must hold on the product or organization
    /// named by the route's <c>{productIdOrSlug}</c> or <c>{orgIdOrSlug}</c>.</summary>
    public string? Scope { get; }

    /// <summary>The caller must hold <paramref name="scope"/> on the route's product or organization.</summary>
    public static RequiredPermission ForScope(string scope) =>
        Scopes.IsKnown(scope) ? new(PermissionKind.Scope, scope) : throw new ArgumentException($"Unknown scope '{scope}'", nameof(scope));

    /// <summary>Any signed-in caller, API users included (collection endpoints that filter to what the caller may see).</summary>
    public static RequiredPermission AnyCaller { get; } = new(PermissionKind.AnyCaller, null);

    /// <summary>Any signed-in person; API users are refused with Particle's error.</summary>
    public static RequiredPermission PeopleOnly { get; } = new(PermissionKind.PeopleOnly, null);

    public override string ToString() => Kind == PermissionKind.Scope ? Scope! : Kind.ToString();
}

public enum PermissionKind
{
    Scope,
    AnyCaller,
    PeopleOnly,
}

public static class RequiredPermissionExtensions
{
    /// <summary>The caller must hold <paramref name="scope"/> on the route's product or organization; otherwise 404 (not a
    /// member) or 403 (a member without the permission). The route must have <c>{productIdOrSlug}</c> or <c>{orgIdOrSlug}</c>.</summary>
    public static TBuilder RequirePermission<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.RequirePermission(RequiredPermission.ForScope(scope));

    public static TBuilder RequirePermission<TBuilder>(this TBuilder builder, RequiredPermission permission) where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(permission);
        builder.RequireAuthorization();
        builder.WithMetadata(permission);
        return builder;
    }
}
