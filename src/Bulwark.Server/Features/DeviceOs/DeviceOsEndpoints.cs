using System.Globalization;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Devices;
using Bulwark.Server.Features.Firmware;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.DeviceOs;

/// <summary>Device OS versions (particle-api.md 5.3) with Bulwark's <c>lts</c> marker, and a product's fleet report of
/// devices on an outdated or non-LTS Device OS.</summary>
public static class DeviceOsEndpoints
{
    public static IServiceCollection AddDeviceOs(this IServiceCollection services) =>
        services.AddSingleton(sp => DeviceOsCatalogue.Load(sp.GetRequiredService<BulwarkOptions>().DataDirectory));

    public static IEndpointRouteBuilder MapDeviceOsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/device-os/versions", List).RequireAuthorization();
        app.MapGet("/v1/device-os/versions/{version}", Get).RequireAuthorization();
        app.MapGet("/v1/products/{productIdOrSlug}/device-os/report", ReportAsync).RequirePermission(Scopes.DevicesList);
        return app;
    }

    private static IResult List(HttpContext context, DeviceOsCatalogue catalogue)
    {
        var query = context.Request.Query;
        var platform = Int(query["platform_id"]);
        var internalVersion = Int(query["internal_version"]);
        var page = Math.Max(1, Int(query["page"]) ?? 1);
        var perPage = Math.Clamp(Int(query["per_page"]) ?? 25, 1, 100);
        var lts = query["lts"].ToString() is "true" or "1";
        var matching = catalogue.Releases
            .Where(r => platform is null || r.SupportedPlatforms.Contains(platform.Value))
            .Where(r => internalVersion is null || r.InternalVersion == internalVersion)
            .Where(r => !lts || r.IsLts)
            .ToList();
        var baseUrl = BaseUrl(context);
        var pageItems = matching.Skip((page - 1) * perPage).Take(perPage).Select(r => DeviceOsCatalogue.ToResponse(r, baseUrl)).ToList();
        return TypedResults.Json(new DeviceOsVersionListResponse(pageItems,
            new PageMeta(matching.Count, page, perPage, (matching.Count + perPage - 1) / perPage)), ApiJson.Options);
    }

    private static IResult Get(string version, HttpContext context, DeviceOsCatalogue catalogue)
    {
        var release = catalogue.Find(version, Int(context.Request.Query["platform_id"]));
        return release is null ? ApiProblem.NotFound($"Device OS version {version} not found (404)")
            : TypedResults.Json(DeviceOsCatalogue.ToResponse(release, BaseUrl(context)), ApiJson.Options);
    }

    private static async Task<IResult> ReportAsync(HttpContext context, BulwarkDbContext db, IProductFleet fleet, DeviceOsCatalogue catalogue)
    {
        var product = context.Grant().Product!;
        var devices = await fleet.Members(db, product.Id).AsNoTracking().OrderBy(d => d.Id)
            .Select(d => new { d.Id, d.Name, d.PlatformId, d.SystemVersion }).ToListAsync(context.RequestAborted);
        var entries = devices.Select(d =>
        {
            var platform = d.PlatformId ?? product.PlatformId;
            var latest = catalogue.Latest(platform);
            var latestLts = catalogue.Latest(platform, ltsOnly: true);
            var lts = d.SystemVersion is { } v && v / 1000 % 2 == 0;
            var outdated = d.SystemVersion is null || (latest is not null && d.SystemVersion < latest.InternalVersion);
            return new DeviceOsFleetEntry(d.Id, d.Name, platform, DeviceView.SystemVersionText(d.SystemVersion), lts, outdated, latest?.Version, latestLts?.Version);
        }).ToList();
        var flagged = entries.Where(e => e.Outdated || !e.Lts).ToList();
        return TypedResults.Json(new DeviceOsFleetReport(entries.Count, entries.Count(e => e.Outdated), entries.Count(e => !e.Lts), flagged), ApiJson.Options);
    }

    private static int? Int(Microsoft.Extensions.Primitives.StringValues value) =>
        int.TryParse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static string BaseUrl(HttpContext context) => $"{context.Request.Scheme}://{context.Request.Host}";
}
