namespace Bulwark.Server.Data;

/// <summary>A person (or, later, an API user) who can hold tokens.</summary>
public sealed class User
{
    public required string Id { get; set; }
    public required string Username { get; set; }
    /// <summary>Lower-cased username, unique: logins are case-insensitive.</summary>
    public required string NormalizedUsername { get; set; }
    public required string PasswordHash { get; set; }
    public string? FirstName { get; set; }
    public string? LastName { get; set; }
    public string? CompanyName { get; set; }
    public bool BusinessAccount { get; set; }
    public bool MfaEnabled { get; set; }
    /// <summary>TOTP secret, encrypted with the server's data key.</summary>
    public string? TotpSecretProtected { get; set; }
    /// <summary>The last TOTP time step accepted, so a code is never accepted twice.</summary>
    public long? TotpLastStep { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? LastActiveAt { get; set; }
    /// <summary>An API user: a programmatic team member that never logs in with a password.</summary>
    public bool IsProgrammatic { get; set; }
}

/// <summary>An access token, stored only as a SHA-256 hash of its secret.</summary>
public sealed class AccessToken
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required string TokenHash { get; set; }
    /// <summary>The first characters of the token, safe to show so a person can tell tokens apart.</summary>
    public required string Hint { get; set; }
    public required string Client { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? ExpiresAt { get; set; }
    public DateTime? LastUsedAt { get; set; }
    public DateTime? RevokedAt { get; set; }
}

/// <summary>A one-time recovery code for two-step authentication, stored as a hash.</summary>
public sealed class RecoveryCode
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required string CodeHash { get; set; }
    public DateTime? UsedAt { get; set; }
}

/// <summary>A short-lived, single-use ticket: an MFA login challenge or a pending MFA enrolment.</summary>
public sealed class MfaTicket
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    public required string TicketHash { get; set; }
    /// <summary><c>login</c> or <c>enroll</c>.</summary>
    public required string Purpose { get; set; }
    /// <summary>For enrolment: the candidate secret (encrypted). For login: the requested token lifetime and client.</summary>
    public string? Payload { get; set; }
    public int FailedAttempts { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime ExpiresAt { get; set; }
    public DateTime? ConsumedAt { get; set; }
}

/// <summary>One row of the append-only, hash-chained audit log.</summary>
public sealed class AuditEvent
{
    public long Id { get; set; }
    public DateTime OccurredAt { get; set; }
    public int Type { get; set; }
    public string? ActorId { get; set; }
    public string? ActorName { get; set; }
    public string? SubjectId { get; set; }
    public string? IpAddress { get; set; }
    public string? Details { get; set; }
    public required string PreviousHash { get; set; }
    public required string Hash { get; set; }
}
