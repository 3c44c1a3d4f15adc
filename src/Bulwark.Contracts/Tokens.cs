namespace Bulwark.Contracts;

/// <summary><c>POST /oauth/token</c> success.</summary>
public sealed record TokenResponse(string TokenType, string AccessToken, long? ExpiresIn, DateTime? ExpiresAt, string? RefreshToken = null);

/// <summary>One entry of <c>GET /v1/access_tokens</c>. The secret is never stored, so only its first characters are shown.</summary>
public sealed record AccessTokenSummary(string Id, string Token, string Client, DateTime CreatedAt, DateTime? ExpiresAt, DateTime? LastUsedAt);

/// <summary><c>GET /v1/access_tokens/current</c>.</summary>
public sealed record CurrentTokenResponse(string Id, DateTime? ExpiresAt, string Client, IReadOnlyList<string> Scopes, IReadOnlyList<OrgRef> Orgs);

/// <summary>An organization reference as Particle spells it.</summary>
public sealed record OrgRef(string Id, string Slug);
