using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>The outcome of the password grant: a token, or a two-step challenge to finish with
/// <see cref="BulwarkApiClient.FinishMfaLoginAsync"/>.</summary>
public sealed record LoginResult(TokenResponse? Token, string? MfaToken)
{
    public bool MfaRequired => Token is null;

    public static LoginResult Success(TokenResponse token) => new(token, null);

    public static LoginResult Challenge(string mfaToken) => new(null, mfaToken);
}
