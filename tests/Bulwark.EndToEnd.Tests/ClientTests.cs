using System.Net;
using Bulwark.Client;
using Bulwark.EndToEnd.Tests.Infrastructure;

namespace Bulwark.EndToEnd.Tests;

/// <summary>The typed client's contract: errors keep the server's code and description.</summary>
public sealed class ClientTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Errors_carry_status_code_and_description()
    {
        using var client = new BulwarkApiClient(fixture.Server.BaseAddress);

        var weak = await Assert.ThrowsAsync<BulwarkApiException>(() => client.SignUpAsync($"weak-{Guid.NewGuid():N}@example.com", "password"));
        Assert.Equal(HttpStatusCode.BadRequest, weak.StatusCode);
        Assert.Equal("invalid_password", weak.Error);
        Assert.False(string.IsNullOrWhiteSpace(weak.Description));
        Assert.Equal(weak.Description, weak.Message);

        var missing = await Assert.ThrowsAsync<BulwarkApiException>(() => client.RevokeTokenAsync("no-such-token"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found", missing.Error);
    }

    [Fact]
    public async Task Login_answers_a_challenge_when_two_step_is_on()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var client = new BulwarkApiClient(fixture.Server.BaseAddress);
        var first = await client.LoginAsync(username, password);
        Assert.False(first.MfaRequired);
        client.AccessToken = first.Token!.AccessToken;

        var enrollment = await client.StartMfaEnrollmentAsync();
        var authenticator = new TotpCodes(enrollment.Secret);
        var confirmed = await client.ConfirmMfaEnrollmentAsync(enrollment.MfaToken, authenticator.Next());
        Assert.Equal(10, confirmed.RecoveryCodes.Count);

        var second = await client.LoginAsync(username, password, expiresIn: 0);
        Assert.True(second.MfaRequired);
        var token = await client.FinishMfaLoginAsync(second.MfaToken!, authenticator.Next());
        Assert.Null(token.ExpiresAt);

        var current = await new BulwarkApiClient(fixture.Server.BaseAddress, token.AccessToken).GetCurrentTokenAsync();
        Assert.Equal("bulwark", current.Client);
        var user = await client.GetUserAsync();
        Assert.True(user.Mfa.Enabled);
    }

    [Fact]
    public void Totp_helper_matches_the_rfc_6238_vector()
    {
        // RFC 6238 appendix B, SHA1, T = 59 s: 94287082 (8 digits), so 287082 with 6.
        Assert.Equal("287082", TotpCodes.Code("12345678901234567890"u8.ToArray(), 59 / 30));
    }
}
