using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>Two-step authentication enrolment (<c>/v1/user/mfa-enable</c>, <c>/v1/user/mfa-disable</c>).</summary>
public sealed partial class BulwarkApiClient
{
    /// <summary>Starts enrolment: a new TOTP secret, its <c>otpauth://</c> URI and the ticket to confirm with.</summary>
    public Task<MfaEnrollmentResponse> StartMfaEnrollmentAsync(CancellationToken cancellationToken = default) =>
        SendAsync<MfaEnrollmentResponse>(Request(HttpMethod.Get, "v1/user/mfa-enable"), cancellationToken);

    /// <summary>Confirms enrolment with a first code; answers the ten recovery codes, shown only this once.</summary>
    public Task<MfaConfirmResponse> ConfirmMfaEnrollmentAsync(string mfaToken, string otp, bool invalidateOtherTokens = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mfaToken);
        ArgumentNullException.ThrowIfNull(otp);
        return SendAsync<MfaConfirmResponse>(
            Request(HttpMethod.Post, "v1/user/mfa-enable", Json(new MfaConfirmBody(mfaToken, otp, invalidateOtherTokens))), cancellationToken);
    }

    public Task<OkResponse> DisableMfaAsync(string currentPassword, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(currentPassword);
        return SendAsync<OkResponse>(Request(HttpMethod.Put, "v1/user/mfa-disable", Json(new CurrentPasswordBody(currentPassword))), cancellationToken);
    }
}
