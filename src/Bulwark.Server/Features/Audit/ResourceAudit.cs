using System.Globalization;
using System.Text.Json;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Http;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Audit;

/// <summary>The audit log of one product or organization. Events about a product or organization carry it as their
/// subject (<c>product:123</c>, <c>org:&lt;id&gt;</c>) and describe the target in <c>details</c>, a small JSON object
/// (<c>{"target":"alice@example.com","role":"Developer"}</c>), so one indexed column finds a resource's history.</summary>
public static class ResourceAudit
{
    /// <summary>Saves the caller's pending changes together with an event about the resource.</summary>
    public static Task RecordAsync(this AuditLog audit, BulwarkDbContext db, HttpContext context, AuditEventType type, string subject,
        string actorId, string actorName, IReadOnlyDictionary<string, object?> details)
    {
        ArgumentNullException.ThrowIfNull(audit);
        return audit.RecordAsync(db, type, AuditActor.From(context, actorId, actorName), subject,
            JsonSerializer.Serialize(details, ApiJson.Options), context.RequestAborted);
    }

    /// <summary>Answers <c>GET .../audit</c> for the given subjects, newest first. Filters: <c>event</c> (name or number),
    /// <c>actor</c> (username), <c>target</c> (username), <c>since</c>/<c>until</c> (ISO-8601), <c>before</c> (event id, for
    /// paging) and <c>limit</c> (1-1000, default 100).</summary>
    public static async Task<IResult> ListAsync(HttpContext context, BulwarkDbContext db, IReadOnlyCollection<string> subjects)
    {
        ArgumentNullException.ThrowIfNull(context);
        var q = context.Request.Query;
        var query = db.AuditEvents.AsNoTracking().Where(e => e.SubjectId != null && subjects.Contains(e.SubjectId));
        if (q["event"].ToString() is { Length: > 0 } eventName)
        {
            if (int.TryParse(eventName, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                query = query.Where(e => e.Type == number);
            }
            else if (Enum.TryParse<AuditEventType>(eventName, ignoreCase: true, out var type))
            {
                query = query.Where(e => e.Type == (int)type);
            }
            else
            {
                return ApiProblem.BadRequest($"Unknown event type '{eventName}'");
            }
        }
        if (q["actor"].ToString() is { Length: > 0 } actor)
        {
            var normalized = actor.Trim().ToLowerInvariant();
            query = query.Where(e => e.ActorName != null && e.ActorName.ToLower() == normalized);
        }
        if (q["target"].ToString() is { Length: > 0 } target)
        {
            var needle = JsonSerializer.Serialize(new Dictionary<string, string> { ["target"] = target.Trim() }, ApiJson.Options)[1..^1];
            query = query.Where(e => e.Details != null && e.Details.Contains(needle));
        }
        if (ParseTime(q["since"].ToString(), "since") is { } since)
        {
            query = query.Where(e => e.OccurredAt >= since);
        }
        if (ParseTime(q["until"].ToString(), "until") is { } until)
        {
            query = query.Where(e => e.OccurredAt < until);
        }
        if (q["before"].ToString() is { Length: > 0 } beforeText)
        {
            if (!long.TryParse(beforeText, NumberStyles.None, CultureInfo.InvariantCulture, out var before))
            {
                return ApiProblem.BadRequest("before must be an event id");
            }
            query = query.Where(e => e.Id < before);
        }
        var limit = 100;
        if (q["limit"].ToString() is { Length: > 0 } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 1000))
        {
            return ApiProblem.BadRequest("limit must be a number from 1 to 1000");
        }
        var rows = await query.OrderByDescending(e => e.Id).Take(limit).ToListAsync(context.RequestAborted);
        return TypedResults.Json(new AuditLogResponse(rows.Select(AuditEndpoints.ToResponse).ToList()), ApiJson.Options);
    }

    private static DateTime? ParseTime(string text, string name)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at.UtcDateTime
            : throw Http.ApiRequestException.BadRequest($"{name} must be an ISO-8601 date and time");
    }
}
