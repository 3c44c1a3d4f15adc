namespace Bulwark.Contracts;

/// <summary>An organization (enterprise account).</summary>
public sealed record OrganizationResponse(string Id, string Slug, string Name, bool RequireMfa, DateTime CreatedAt);

/// <summary><c>GET /v1/orgs</c>.</summary>
public sealed record OrganizationListResponse(IReadOnlyList<OrganizationResponse> Organizations);

/// <summary><c>GET /v1/orgs/:orgIdOrSlug</c> and the create/update answers.</summary>
public sealed record OrganizationEnvelope(OrganizationResponse Organization);
