using System.Globalization;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Events;

/// <summary>Where a product's events travel on the bus. Only devices with full product privileges publish here
/// (<see cref="Gateway.DeviceSession"/>), so quarantined, denied and limited devices never reach it.</summary>
public static class ProductEventAudience
{
    // User IDs never contain ':', so this key cannot collide with a user's own events.
    public static string Of(int productId) => "product:" + productId.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The product event streams and product publish (particle-api.md 8): <c>GET /v1/products/:p/events[/:prefix]</c>,
/// <c>GET /v1/products/:p/devices/:id/events[/:prefix]</c> (events:get) and <c>POST /v1/products/:p/events</c> (events:send).</summary>
public static class ProductEventEndpoints
{
    public static IEndpointRouteBuilder MapProductEventEndpoints(this IEndpointRouteBuilder app)
    {
        var product = app.MapGroup("/v1/products/{productIdOrSlug}");
        product.MapGet("/events", (HttpContext context, IEventBus bus, EventStreamOptions options) =>
            StreamAsync(context, bus, options, null)).RequirePermission(Scopes.EventsGet);
        product.MapGet("/events/{**prefix}", (string prefix, HttpContext context, IEventBus bus, EventStreamOptions options) =>
            StreamAsync(context, bus, options, prefix)).RequirePermission(Scopes.EventsGet);
        product.MapPost("/events", (HttpContext context, IEventBus bus, TimeProvider clock) =>
        {
            var productId = context.Grant().Product!.Id;
            return EventEndpoints.PublishToAsync(context, bus, clock, ProductEventAudience.Of(productId), productId);
        }).RequirePermission(Scopes.EventsSend);
        product.MapGet("/devices/{deviceId}/events", (string deviceId, HttpContext context, IEventBus bus, EventStreamOptions options, BulwarkDbContext db) =>
            DeviceStreamAsync(context, bus, options, db, deviceId, null)).RequirePermission(Scopes.EventsGet);
        product.MapGet("/devices/{deviceId}/events/{**prefix}", (string deviceId, string prefix, HttpContext context, IEventBus bus,
            EventStreamOptions options, BulwarkDbContext db) => DeviceStreamAsync(context, bus, options, db, deviceId, prefix)).RequirePermission(Scopes.EventsGet);
        return app;
    }

    private static Task<IResult> StreamAsync(HttpContext context, IEventBus bus, EventStreamOptions options, string? prefix) =>
        EventEndpoints.StreamAsync(context, bus, options, prefix, null, ProductEventAudience.Of(context.Grant().Product!.Id));

    private static async Task<IResult> DeviceStreamAsync(HttpContext context, IEventBus bus, EventStreamOptions options, BulwarkDbContext db,
        string deviceId, string? prefix)
    {
        var productId = context.Grant().Product!.Id;
        var id = deviceId.Trim().ToLowerInvariant();
        // The product's members and the devices in its lists; a device of another product answers 404.
        var known = await db.Devices.AnyAsync(d => d.Id == id && d.CloudProductId == productId, context.RequestAborted)
            || await db.ProductDeviceStates.AnyAsync(s => s.DeviceId == id && s.ProductId == productId, context.RequestAborted);
        if (!known)
        {
            return ApiProblem.NotFound("Device not found in this product");
        }
        return await EventEndpoints.StreamAsync(context, bus, options, prefix, id, ProductEventAudience.Of(productId));
    }
}
