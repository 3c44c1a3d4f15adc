namespace Bulwark.Contracts;

/// <summary>Profile fields a user may set about themselves.</summary>
public sealed record AccountInfo(string? FirstName = null, string? LastName = null, bool? BusinessAccount = null, string? CompanyName = null);

/// <summary>Whether two-step authentication is on.</summary>
public sealed record MfaStatus(bool Enabled);

/// <summary><c>GET /v1/user</c>.</summary>
public sealed record UserResponse(
    string Username,
    IReadOnlyList<string> SubscriptionIds,
    AccountInfo AccountInfo,
    MfaStatus Mfa,
    bool ScimProvisioned,
    bool NoPassword,
    int WifiDeviceCount,
    int CellularDeviceCount,
    DateTime CreatedAt);

/// <summary><c>POST /v1/users</c> answer.</summary>
public sealed record SignupResponse(bool Ok, string Username);

/// <summary><c>GET /v1/user/identify</c>.</summary>
public sealed record IdentityResponse(string Id, string Email);
