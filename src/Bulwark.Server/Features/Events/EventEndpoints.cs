using System.Text;
using System.Text.Json;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Features.Devices;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;

namespace Bulwark.Server.Features.Events;

/// <summary>Event stream settings (<c>Bulwark:Events:*</c>).</summary>
public sealed class EventStreamOptions
{
    /// <summary>particle-api-js reconnects after 15 s of silence, so streams send a comment more often than that.</summary>
    public double KeepAliveSeconds { get; set; } = 9;

    /// <summary>Events a stream may fall behind before it is dropped (the client reconnects).</summary>
    public int SubscriberBuffer { get; set; } = 1024;
}

/// <summary>Publishing and the Server-Sent Event streams (particle-api.md 8). A user's streams carry only events of
/// that user's devices and that user's own publishes.</summary>
public static class EventEndpoints
{
    public const int MaxNameLength = 64;
    public const int MaxDataLength = 1024;

    public static IServiceCollection AddEvents(this IServiceCollection services)
    {
        services.AddSingleton<IEventBus, InProcessEventBus>();
        services.AddSingleton(sp => sp.GetRequiredService<BulwarkOptions>().Events);
        return services;
    }

    public static IEndpointRouteBuilder MapEventEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1").RequireAuthorization();
        group.MapPost("/devices/events", PublishAsync);
        group.MapGet("/events", (HttpContext context) => TypedResults.Json(new { ok = false, error = "event prefix filter is required" }, statusCode: 400));
        group.MapGet("/events/{**prefix}", (string prefix, HttpContext context, IEventBus bus, EventStreamOptions options) =>
            StreamAsync(context, bus, options, prefix, null));
        group.MapGet("/devices/events", (HttpContext context, IEventBus bus, EventStreamOptions options) =>
            StreamAsync(context, bus, options, null, null));
        group.MapGet("/devices/events/{**prefix}", (string prefix, HttpContext context, IEventBus bus, EventStreamOptions options) =>
            StreamAsync(context, bus, options, prefix, null));
        group.MapGet("/devices/{deviceId}/events", (string deviceId, HttpContext context, IEventBus bus, EventStreamOptions options, BulwarkDbContext db) =>
            DeviceStreamAsync(context, bus, options, db, deviceId, null));
        group.MapGet("/devices/{deviceId}/events/{**prefix}", (string deviceId, string prefix, HttpContext context, IEventBus bus, EventStreamOptions options,
            BulwarkDbContext db) => DeviceStreamAsync(context, bus, options, db, deviceId, prefix));
        return app;
    }

    private static Task<IResult> PublishAsync(HttpContext context, IEventBus bus, TimeProvider clock) =>
        PublishToAsync(context, bus, clock, context.User.UserId(), null);

    /// <summary>Publishes the request's event to <paramref name="audience"/> (a user, or a product's stream).</summary>
    internal static async Task<IResult> PublishToAsync(HttpContext context, IEventBus bus, TimeProvider clock, string audience, int? productId)
    {
        var fields = await RequestFields.ReadAsync(context.Request);
        var name = fields.Required("name");
        if (name.Length > MaxNameLength)
        {
            return ApiProblem.BadRequest($"The event name is limited to {MaxNameLength} characters");
        }
        var data = fields.String("data");
        if (data is not null && Encoding.UTF8.GetByteCount(data) > MaxDataLength)
        {
            return ApiProblem.BadRequest($"The event data is limited to {MaxDataLength} bytes");
        }
        var ttl = fields.Long("ttl") ?? 60;
        if (ttl is < 0 or > 16_777_215)
        {
            return ApiProblem.BadRequest("ttl must be between 0 and 16777215 seconds");
        }
        var isPrivate = fields.Bool("private") ?? true;
        bus.Publish(new CloudEvent(name, data, (int)ttl, clock.GetUtcNow().UtcDateTime, "api", audience, isPrivate) { ProductId = productId });
        return TypedResults.Json(new { ok = true });
    }

    private static async Task<IResult> DeviceStreamAsync(HttpContext context, IEventBus bus, EventStreamOptions options, BulwarkDbContext db,
        string deviceId, string? prefix)
    {
        var device = await DeviceEndpoints.FindOwnedAsync(db, context, deviceId, tracking: false);
        if (device is null)
        {
            return ApiProblem.NotFound("Device not found");
        }
        return await StreamAsync(context, bus, options, prefix, device.Id);
    }

    /// <summary>Streams the events of <paramref name="audience"/> (the caller when null, or a product's stream).</summary>
    internal static async Task<IResult> StreamAsync(HttpContext context, IEventBus bus, EventStreamOptions options, string? prefix, string? deviceId,
        string? audience = null)
    {
        prefix = string.IsNullOrEmpty(prefix) ? null : Uri.UnescapeDataString(prefix);
        var userId = audience ?? context.User.UserId();
        using var subscription = bus.Subscribe(userId,
            e => (prefix is null || e.Name.StartsWith(prefix, StringComparison.Ordinal)) && (deviceId is null || e.DeviceId == deviceId),
            options.SubscriberBuffer);
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var aborted = context.RequestAborted;
        var keepAlive = TimeSpan.FromSeconds(options.KeepAliveSeconds);
        try
        {
            await response.WriteAsync(":ok\n\n", aborted);
            await response.Body.FlushAsync(aborted);
            var reader = subscription.Reader;
            while (!aborted.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                wait.CancelAfter(keepAlive);
                bool more;
                try
                {
                    more = await reader.WaitToReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    await response.WriteAsync(":\n\n", aborted);
                    await response.Body.FlushAsync(aborted);
                    continue;
                }
                if (!more)
                {
                    break; // Dropped for falling behind: end the stream so the client reconnects.
                }
                while (reader.TryRead(out var e))
                {
                    await response.WriteAsync(Format(e), aborted);
                }
                await response.Body.FlushAsync(aborted);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
        }
        return TypedResults.Empty;
    }

    /// <summary>One event in Particle's SSE wire format.</summary>
    public static string Format(CloudEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var data = JsonSerializer.Serialize(new SseData(e.Data, e.TtlSeconds, DeviceView.Time(e.PublishedAt)!, e.CoreId), SseJson.Default.SseData);
        // The name goes on one line: strip line breaks a publisher might smuggle in to forge a second event.
        var name = e.Name.Replace('\n', ' ').Replace('\r', ' ');
        return $"event: {name}\ndata: {data}\n\n";
    }
}

internal sealed record SseData(
    [property: System.Text.Json.Serialization.JsonPropertyName("data")] string? Data,
    [property: System.Text.Json.Serialization.JsonPropertyName("ttl")] int Ttl,
    [property: System.Text.Json.Serialization.JsonPropertyName("published_at")] string PublishedAt,
    [property: System.Text.Json.Serialization.JsonPropertyName("coreid")] string CoreId);

[System.Text.Json.Serialization.JsonSerializable(typeof(SseData))]
internal sealed partial class SseJson : System.Text.Json.Serialization.JsonSerializerContext;
