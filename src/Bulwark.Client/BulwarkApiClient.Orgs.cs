using System.Text.Json.Serialization;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>Organizations (<c>/v1/orgs</c>): list, create, get, update.</summary>
public sealed partial class BulwarkApiClient
{
    /// <summary><c>GET /v1/orgs</c>: the organizations the caller belongs to.</summary>
    public async Task<IReadOnlyList<OrganizationResponse>> ListOrganizationsAsync(CancellationToken cancellationToken = default) =>
        (await SendAsync<OrganizationListResponse>(Request(HttpMethod.Get, "v1/orgs"), cancellationToken).ConfigureAwait(false)).Organizations;

    /// <summary><c>POST /v1/orgs {name, slug?}</c>: the caller becomes its Owner.</summary>
    public async Task<OrganizationResponse> CreateOrganizationAsync(string name, string? slug = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var envelope = await SendAsync<OrganizationEnvelope>(Request(HttpMethod.Post, "v1/orgs", Json(new OrganizationCreateBody(name, slug))),
            cancellationToken).ConfigureAwait(false);
        return envelope.Organization;
    }

    /// <summary><c>GET /v1/orgs/:orgIdOrSlug</c>.</summary>
    public async Task<OrganizationResponse> GetOrganizationAsync(string organization, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(organization);
        return (await SendAsync<OrganizationEnvelope>(Request(HttpMethod.Get, "v1/orgs/" + Escape(organization)), cancellationToken)
            .ConfigureAwait(false)).Organization;
    }

    /// <summary><c>PUT /v1/orgs/:orgIdOrSlug {name?, require_mfa?}</c>.</summary>
    public async Task<OrganizationResponse> UpdateOrganizationAsync(string organization, OrganizationUpdate update,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(organization);
        ArgumentNullException.ThrowIfNull(update);
        return (await SendAsync<OrganizationEnvelope>(Request(HttpMethod.Put, "v1/orgs/" + Escape(organization), Json(update)), cancellationToken)
            .ConfigureAwait(false)).Organization;
    }

    /// <summary><c>GET /v1/orgs/:orgIdOrSlug/audit</c>: the organization's and its products' events, newest first.</summary>
    public Task<AuditLogResponse> GetOrganizationAuditLogAsync(string organization, ResourceAuditQuery? query = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(organization);
        return SendAsync<AuditLogResponse>(Request(HttpMethod.Get, $"v1/orgs/{Escape(organization)}/audit" + (query?.ToQueryString() ?? "")),
            cancellationToken);
    }
}

/// <summary><c>PUT /v1/orgs/:org</c>: null fields are left alone.</summary>
public sealed record OrganizationUpdate
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? RequireMfa { get; init; }
}

internal sealed record OrganizationCreateBody(
    string Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Slug);
