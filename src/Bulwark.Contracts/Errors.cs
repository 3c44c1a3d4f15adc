namespace Bulwark.Contracts;

/// <summary>The one error shape of the API: OAuth-style <c>{error, error_description}</c>.</summary>
public sealed record ApiError(string Error, string ErrorDescription);

/// <summary>The 403 answer of the password grant when the account has two-step authentication on.</summary>
public sealed record MfaRequiredError(string Error, string ErrorDescription, string MfaToken);

/// <summary>Plain acknowledgement used by many Particle endpoints.</summary>
public sealed record OkResponse(bool Ok, string? Message = null);
