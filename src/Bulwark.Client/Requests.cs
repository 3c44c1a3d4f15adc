using System.Text.Json.Serialization;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary><c>POST /v1/users</c>.</summary>
public sealed record SignupRequest(
    string Username,
    string Password,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] AccountInfo? AccountInfo = null);

/// <summary><c>PUT /v1/user</c>: set exactly one of profile, new username or new password; the last two need the current password.</summary>
public sealed record UserUpdate
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AccountInfo? AccountInfo { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Username { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Password { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CurrentPassword { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? InvalidateTokens { get; init; }
}

/// <summary>Filters for <c>GET /v1/user/audit</c>.</summary>
public sealed record AuditQuery(int? Limit = null, long? Before = null, string? Event = null);

internal sealed record PasswordBody(string Password);

internal sealed record CurrentPasswordBody(string CurrentPassword);

internal sealed record MfaConfirmBody(string MfaToken, string Otp, bool InvalidateTokens);
