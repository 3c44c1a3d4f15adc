namespace Bulwark.Contracts;

/// <summary><c>GET /v1/user/mfa-enable</c>: a pending enrolment.</summary>
public sealed record MfaEnrollmentResponse(string MfaToken, string Secret, string OtpauthUri, string QrUrl);

/// <summary><c>POST /v1/user/mfa-enable</c>: the enrolment is confirmed; recovery codes are shown once.</summary>
public sealed record MfaConfirmResponse(bool Enrolled, IReadOnlyList<string> RecoveryCodes);
