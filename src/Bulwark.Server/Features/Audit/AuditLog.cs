using System.Security.Cryptography;
using System.Text;
using Bulwark.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Audit;

/// <summary>Who did what, from where. Appends to the hash-chained <c>audit_events</c> table: each row's hash
/// covers its content and the previous row's hash, so editing or deleting any row breaks every hash after it
/// (see <see cref="AuditChainVerifier"/>). The database also refuses UPDATE and DELETE on the table.</summary>
public sealed class AuditLog(TimeProvider clock)
{
    public const string GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";
    private readonly SemaphoreSlim _appendLock = new(1, 1);

    /// <summary>Saves the caller's pending changes and the audit event in one transaction, so a change is
    /// never stored without its audit record (nor the record without the change).</summary>
    public async Task RecordAsync(BulwarkDbContext db, AuditEventType type, AuditActor actor, string? subjectId = null,
        string? details = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(db);
        await _appendLock.WaitAsync(cancellationToken);
        try
        {
            var ownsTransaction = db.Database.CurrentTransaction is null;
            await using var transaction = ownsTransaction ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
            if (db.Database.IsNpgsql())
            {
                // Several nodes may append at once: serialise them on the database, not just in this process.
                await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock(4242)", cancellationToken);
            }
            var previous = await db.AuditEvents.OrderByDescending(e => e.Id).Select(e => e.Hash).FirstOrDefaultAsync(cancellationToken)
                ?? GenesisHash;
            var entry = new AuditEvent
            {
                OccurredAt = TruncateToMicroseconds(clock.GetUtcNow().UtcDateTime),
                Type = (int)type,
                ActorId = actor.UserId,
                ActorName = actor.Name,
                SubjectId = subjectId,
                IpAddress = actor.IpAddress,
                Details = details,
                PreviousHash = previous,
                Hash = "",
            };
            entry.Hash = ComputeHash(entry);
            db.AuditEvents.Add(entry);
            await db.SaveChangesAsync(cancellationToken);
            if (transaction is not null)
            {
                await transaction.CommitAsync(cancellationToken);
            }
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <summary>The hash of one row: SHA-256 over the previous hash and every stored field, in a fixed text form.</summary>
    public static string ComputeHash(AuditEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var canonical = string.Join('\u001f',
            e.PreviousHash,
            e.OccurredAt.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture),
            e.Type.ToString(System.Globalization.CultureInfo.InvariantCulture),
            e.ActorId ?? "", e.ActorName ?? "", e.SubjectId ?? "", e.IpAddress ?? "", e.Details ?? "");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    // PostgreSQL keeps microseconds; keep the same precision everywhere so the hash survives a round trip.
    private static DateTime TruncateToMicroseconds(DateTime t) => new(t.Ticks - (t.Ticks % 10), DateTimeKind.Utc);
}

/// <summary>Who caused an audit event and from which address.</summary>
public sealed record AuditActor(string? UserId, string? Name, string? IpAddress)
{
    public static AuditActor From(HttpContext context, string? userId, string? name) =>
        new(userId, name, context?.Connection.RemoteIpAddress?.ToString());
}

/// <summary>Re-walks the chain and reports the first row whose hash or link does not match.</summary>
public static class AuditChainVerifier
{
    public sealed record Result(bool Intact, long EventsChecked, long? FirstBrokenId, string Message);

    public static async Task<Result> VerifyAsync(BulwarkDbContext db, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(db);
        var expectedPrevious = AuditLog.GenesisHash;
        long count = 0;
        long lastId = 0;
        while (true)
        {
            var batch = await db.AuditEvents.AsNoTracking().Where(e => e.Id > lastId).OrderBy(e => e.Id).Take(5000).ToListAsync(cancellationToken);
            if (batch.Count == 0)
            {
                break;
            }
            foreach (var e in batch)
            {
                if (e.PreviousHash != expectedPrevious)
                {
                    return new(false, count, e.Id, $"Event {e.Id} does not link to the event before it (a row was deleted or reordered)");
                }
                if (AuditLog.ComputeHash(e) != e.Hash)
                {
                    return new(false, count, e.Id, $"Event {e.Id} was modified after it was written");
                }
                expectedPrevious = e.Hash;
                count++;
                lastId = e.Id;
            }
        }
        return new(true, count, null, $"Audit log intact: {count} events verified");
    }
}
