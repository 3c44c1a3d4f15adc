namespace Bulwark.Contracts;

/// <summary>One security event from the hash-chained audit log.</summary>
public sealed record AuditEventResponse(
    long Id,
    DateTime OccurredAt,
    int Type,
    string Event,
    string? ActorId,
    string? Actor,
    string? SubjectId,
    string? IpAddress,
    string? Details);

/// <summary>A page of audit events, newest first.</summary>
public sealed record AuditLogResponse(IReadOnlyList<AuditEventResponse> Events);
