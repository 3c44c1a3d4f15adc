using System.Net;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>Logging in (<c>POST /oauth/token</c>) and access tokens (<c>/v1/access_tokens...</c>).</summary>
public sealed partial class BulwarkApiClient
{
    public const string MfaGrantType = "urn:custom:mfa-otp";

    /// <summary>Password grant. Answers the token, or the two-step challenge when the account has it on.
    /// <paramref name="expiresIn"/> is in seconds, 0 for a token that never expires, null for the server default.</summary>
    public async Task<LoginResult> LoginAsync(string username, string password, long? expiresIn = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        var fields = GrantFields("password");
        fields.Add(new("username", username));
        fields.Add(new("password", password));
        if (expiresIn is { } seconds)
        {
            fields.Add(new("expires_in", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        using var request = Request(HttpMethod.Post, "oauth/token", new FormUrlEncodedContent(fields), AuthMode.None);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return LoginResult.Success(await ReadAsync<TokenResponse>(response, cancellationToken).ConfigureAwait(false));
        }
        if (response.StatusCode == HttpStatusCode.Forbidden)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var (error, description, mfaToken) = ParseError(body);
            if (error == "mfa_required" && !string.IsNullOrEmpty(mfaToken))
            {
                return LoginResult.Challenge(mfaToken);
            }
            throw new BulwarkApiException(response.StatusCode, error ?? "forbidden", description ?? "Login refused");
        }
        throw await ErrorFromAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Second step of a two-step login: the challenge's <c>mfa_token</c> and a code from the
    /// authenticator (or a recovery code).</summary>
    public Task<TokenResponse> FinishMfaLoginAsync(string mfaToken, string otp, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mfaToken);
        ArgumentNullException.ThrowIfNull(otp);
        var fields = GrantFields(MfaGrantType);
        fields.Add(new("mfa_token", mfaToken));
        fields.Add(new("otp", otp));
        return SendAsync<TokenResponse>(Request(HttpMethod.Post, "oauth/token", new FormUrlEncodedContent(fields), AuthMode.None), cancellationToken);
    }

    /// <summary>Lists the account's live tokens. Needs the password, and a one-time code when two-step authentication is on.</summary>
    public Task<IReadOnlyList<AccessTokenSummary>> ListTokensAsync(string username, string password, string? otp = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        var path = string.IsNullOrEmpty(otp) ? "v1/access_tokens" : "v1/access_tokens?otp=" + Escape(otp);
        var request = Request(HttpMethod.Get, path, auth: AuthMode.None);
        request.Headers.Authorization = Basic(username, password);
        return SendAsync<IReadOnlyList<AccessTokenSummary>>(request, cancellationToken);
    }

    /// <summary>The token this client is using.</summary>
    public Task<CurrentTokenResponse> GetCurrentTokenAsync(CancellationToken cancellationToken = default) =>
        SendAsync<CurrentTokenResponse>(Request(HttpMethod.Get, "v1/access_tokens/current"), cancellationToken);

    /// <summary>A new token for the account, apart from this client's own (a password grant).
    /// Throws <see cref="BulwarkApiException"/> with <c>mfa_required</c> when <paramref name="otp"/> is needed but missing.</summary>
    public async Task<TokenResponse> CreateTokenAsync(string username, string password, long? expiresIn = null, string? otp = null,
        CancellationToken cancellationToken = default)
    {
        var result = await LoginAsync(username, password, expiresIn, cancellationToken).ConfigureAwait(false);
        if (result.Token is { } token)
        {
            return token;
        }
        if (string.IsNullOrEmpty(otp))
        {
            throw new BulwarkApiException(HttpStatusCode.Forbidden, "mfa_required", "Multifactor authentication required");
        }
        return await FinishMfaLoginAsync(result.MfaToken!, otp, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Revokes a token given its secret (no other credential needed) or, when signed in, its id.</summary>
    public Task<OkResponse> RevokeTokenAsync(string tokenOrId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenOrId);
        return SendAsync<OkResponse>(Request(HttpMethod.Delete, "v1/access_tokens/" + Escape(tokenOrId), auth: AuthMode.BearerIfAvailable), cancellationToken);
    }

    /// <summary>Revokes the token this client is using (logout).</summary>
    public Task<OkResponse> RevokeCurrentTokenAsync(CancellationToken cancellationToken = default) =>
        SendAsync<OkResponse>(Request(HttpMethod.Delete, "v1/access_tokens/current"), cancellationToken);

    /// <summary>Revokes every token of the account, this client's included.</summary>
    public Task<OkResponse> RevokeAllTokensAsync(CancellationToken cancellationToken = default) =>
        SendAsync<OkResponse>(Request(HttpMethod.Delete, "v1/access_tokens"), cancellationToken);

    private List<KeyValuePair<string, string>> GrantFields(string grantType) =>
    [
        new("grant_type", grantType),
        new("client_id", ClientId),
        new("client_secret", ClientId),
    ];
}
