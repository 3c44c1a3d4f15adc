using System.Text.Json.Serialization;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>Product and organization teams (<c>/v1/products/:p/team</c>, <c>/v1/orgs/:org/team</c>): members, roles and API users.</summary>
public sealed partial class BulwarkApiClient
{
    /// <summary><c>GET .../team</c>.</summary>
    public async Task<IReadOnlyList<TeamMemberResponse>> ListTeamAsync(TeamOf team, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(team);
        return (await SendAsync<TeamListResponse>(Request(HttpMethod.Get, team.Path), cancellationToken).ConfigureAwait(false)).Team;
    }

    /// <summary><c>POST .../team {username, role}</c>: adds a person who already has an account.</summary>
    public Task<TeamInviteResponse> InviteTeamMemberAsync(TeamOf team, string username, string? role = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(team);
        ArgumentException.ThrowIfNullOrWhiteSpace(username);
        return SendAsync<TeamInviteResponse>(Request(HttpMethod.Post, team.Path, Json(new TeamInviteBody(username, role))), cancellationToken);
    }

    /// <summary><c>PUT .../team/:username {role}</c>.</summary>
    public Task<TeamMemberUpdatedResponse> SetTeamMemberRoleAsync(TeamOf team, string username, string role, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(team);
        ArgumentException.ThrowIfNullOrWhiteSpace(username);
        ArgumentException.ThrowIfNullOrWhiteSpace(role);
        return SendAsync<TeamMemberUpdatedResponse>(Request(HttpMethod.Put, team.MemberPath(username), Json(new TeamRoleBody(role))), cancellationToken);
    }

    /// <summary><c>DELETE .../team/:username</c>: a person or an API user.</summary>
    public Task<OkResponse> RemoveTeamMemberAsync(TeamOf team, string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(team);
        ArgumentException.ThrowIfNullOrWhiteSpace(username);
        return SendAsync<OkResponse>(Request(HttpMethod.Delete, team.MemberPath(username)), cancellationToken);
    }

    /// <summary><c>POST .../team {friendly_name, scopes}</c>: the API user and its token, shown only in this answer.</summary>
    public Task<ApiUserCreatedResponse> CreateApiUserAsync(TeamOf team, string friendlyName, IReadOnlyList<string> scopes,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(team);
        ArgumentException.ThrowIfNullOrWhiteSpace(friendlyName);
        ArgumentNullException.ThrowIfNull(scopes);
        return SendAsync<ApiUserCreatedResponse>(Request(HttpMethod.Post, team.Path, Json(new ApiUserBody(friendlyName, scopes))), cancellationToken);
    }

    /// <summary><c>PUT .../team/:username {friendly_name?, scopes?}</c>: a scope change issues a fresh token.</summary>
    public Task<TeamMemberUpdatedResponse> UpdateApiUserAsync(TeamOf team, string username, string? friendlyName, IReadOnlyList<string>? scopes,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(team);
        ArgumentException.ThrowIfNullOrWhiteSpace(username);
        return SendAsync<TeamMemberUpdatedResponse>(Request(HttpMethod.Put, team.MemberPath(username), Json(new ApiUserUpdateBody(friendlyName, scopes))),
            cancellationToken);
    }

    /// <summary><c>PUT .../team/:username/token</c>: a new token for the API user; the old one stops working.</summary>
    public Task<TeamMemberUpdatedResponse> RegenerateApiUserTokenAsync(TeamOf team, string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(team);
        ArgumentException.ThrowIfNullOrWhiteSpace(username);
        return SendAsync<TeamMemberUpdatedResponse>(Request(HttpMethod.Put, team.MemberPath(username) + "/token"), cancellationToken);
    }
}

/// <summary>Whose team: a product's (ID or slug) or an organization's (ID or slug).</summary>
public sealed record TeamOf
{
    private TeamOf(string kind, string key)
    {
        Kind = kind;
        Key = key;
    }

    /// <summary><c>product</c> or <c>org</c>.</summary>
    public string Kind { get; }

    public string Key { get; }

    public static TeamOf Product(string productIdOrSlug)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(productIdOrSlug);
        return new("product", productIdOrSlug.Trim());
    }

    public static TeamOf Organization(string orgIdOrSlug)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(orgIdOrSlug);
        return new("org", orgIdOrSlug.Trim());
    }

    internal string Path => (Kind == "product" ? "v1/products/" : "v1/orgs/") + Uri.EscapeDataString(Key) + "/team";

    internal string MemberPath(string username) => Path + "/" + Uri.EscapeDataString(username.Trim());

    public override string ToString() => $"{Kind} {Key}";
}

internal sealed record TeamInviteBody(string Username, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role);

internal sealed record TeamRoleBody(string Role);

internal sealed record ApiUserBody(string FriendlyName, IReadOnlyList<string> Scopes);

internal sealed record ApiUserUpdateBody(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FriendlyName,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Scopes);
