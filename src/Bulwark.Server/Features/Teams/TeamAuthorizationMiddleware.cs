using Bulwark.Server.Http;

namespace Bulwark.Server.Features.Teams;

/// <summary>Enforces <see cref="RequiredPermission"/> after authentication and before the endpoint runs (so before
/// any parameter binding can answer first), and keeps API users off the user-account endpoints (<c>/v1/user...</c>).</summary>
public sealed class TeamAuthorizationMiddleware(RequestDelegate next)
{
    public const string ApiUserRefusal = "API users are not allowed to call this endpoint";

    public async Task InvokeAsync(HttpContext context, ProductAccess access)
    {
        var permission = context.GetEndpoint()?.Metadata.GetMetadata<RequiredPermission>();
        var authenticated = context.User.Identity?.IsAuthenticated == true;
        if (!authenticated || (permission is null && !IsUserAccountPath(context.Request.Path)))
        {
            await next(context);
            return;
        }
        var caller = await access.CallerAsync(context);
        if (caller is null)
        {
            await ApiProblem.Unauthorized().ExecuteAsync(context);
            return;
        }
        if (caller.IsApiUser && (permission?.Kind == PermissionKind.PeopleOnly || IsUserAccountPath(context.Request.Path)))
        {
            await ApiUserRefused().ExecuteAsync(context);
            return;
        }
        if (permission is { Kind: PermissionKind.Scope, Scope: { } scope })
        {
            var route = context.Request.RouteValues;
            AccessDecision decision;
            if (route.TryGetValue(ProductAccess.ProductRouteParameter, out var product) && product is string productIdOrSlug)
            {
                decision = await access.ForProductAsync(context, productIdOrSlug, scope);
            }
            else if (route.TryGetValue(ProductAccess.OrganizationRouteParameter, out var org) && org is string orgIdOrSlug)
            {
                decision = await access.ForOrganizationAsync(context, orgIdOrSlug, scope);
            }
            else
            {
                throw new InvalidOperationException(
                    $"{context.GetEndpoint()?.DisplayName} requires {scope} but its route names no {{{ProductAccess.ProductRouteParameter}}} or {{{ProductAccess.OrganizationRouteParameter}}}");
            }
            if (!decision.Allowed)
            {
                await decision.Problem!.ExecuteAsync(context);
                return;
            }
            context.Features.Set(decision.Grant);
        }
        await next(context);
    }

    /// <summary>Particle's answer when an API user calls an endpoint only people may call.</summary>
    public static IResult ApiUserRefused() => ApiProblem.Forbidden(ApiUserRefusal, "unauthorized");

    private static bool IsUserAccountPath(PathString path) =>
        path.StartsWithSegments("/v1/user", StringComparison.OrdinalIgnoreCase);
}
