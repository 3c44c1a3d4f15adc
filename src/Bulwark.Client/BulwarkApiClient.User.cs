using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>Sign-up and the signed-in user's account (<c>/v1/users</c>, <c>/v1/user</c>).</summary>
public sealed partial class BulwarkApiClient
{
    public Task<SignupResponse> SignUpAsync(SignupRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return SendAsync<SignupResponse>(Request(HttpMethod.Post, "v1/users", Json(request), AuthMode.None), cancellationToken);
    }

    public Task<SignupResponse> SignUpAsync(string username, string password, CancellationToken cancellationToken = default) =>
        SignUpAsync(new SignupRequest(username, password), cancellationToken);

    public Task<UserResponse> GetUserAsync(CancellationToken cancellationToken = default) =>
        SendAsync<UserResponse>(Request(HttpMethod.Get, "v1/user"), cancellationToken);

    public Task<OkResponse> UpdateUserAsync(UserUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        return SendAsync<OkResponse>(Request(HttpMethod.Put, "v1/user", Json(update)), cancellationToken);
    }

    /// <summary>Deletes the account; the password is asked again.</summary>
    public Task<OkResponse> DeleteUserAsync(string password, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(password);
        return SendAsync<OkResponse>(Request(HttpMethod.Delete, "v1/user", Json(new PasswordBody(password))), cancellationToken);
    }
}
