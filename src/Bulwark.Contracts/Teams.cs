using System.Text.Json.Serialization;

namespace Bulwark.Contracts;

/// <summary>A team role as Particle spells it: <c>{id, name}</c>, e.g. <c>{"id":"view-only","name":"View-only"}</c>.</summary>
public sealed record TeamRoleResponse(string Id, string Name);

/// <summary>One member of a product or organization team: a person (with <c>role</c>) or an API user
/// (<c>is_programmatic</c>, with <c>friendly_name</c> and <c>scopes</c>).</summary>
public sealed record TeamMemberResponse(
    [property: JsonPropertyName("_id")] string Id,
    string Username,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] TeamRoleResponse? Role,
    bool NoMfa,
    bool ScimProvisioned,
    bool NoPassword,
    bool IsProgrammatic,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FriendlyName,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Scopes,
    int? ProductId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? OrgId,
    DateTime? LastActiveAt,
    int TokenCount,
    DateTime JoinedAt);

/// <summary><c>GET .../team</c>.</summary>
public sealed record TeamListResponse(bool Ok, IReadOnlyList<TeamMemberResponse> Team);

/// <summary><c>POST .../team {username, role}</c>.</summary>
public sealed record TeamInviteResponse(bool Ok, InvitedMember Invited);

public sealed record InvitedMember(string Username, TeamRoleResponse Role);

/// <summary>A token shown once.</summary>
public sealed record ApiUserToken(string Token);

/// <summary><c>POST .../team {friendly_name, scopes}</c>: the API user and its only token, shown once.</summary>
public sealed record ApiUserCreatedResponse(bool Ok, ApiUserCreated Created);

public sealed record ApiUserCreated(string Username, string FriendlyName, IReadOnlyList<string> Scopes, bool IsProgrammatic,
    int? ProductId, string? OrgId, IReadOnlyList<ApiUserToken> Tokens);

/// <summary><c>PUT .../team/:username</c> and <c>POST|PUT .../team/:username/token</c>. <c>tokens</c> is present only when a
/// fresh token was issued (scopes changed, or regenerate).</summary>
public sealed record TeamMemberUpdatedResponse(bool Ok, TeamMemberUpdated Updated);

public sealed record TeamMemberUpdated(
    string Username,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] TeamRoleResponse? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FriendlyName,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Scopes,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ApiUserToken>? Tokens);
