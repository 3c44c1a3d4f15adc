namespace Bulwark.Server.Features.Audit;

/// <summary>Numbered security events, grouped by area in blocks of 100 (the numbers are stored; never reuse one).</summary>
public enum AuditEventType
{
    UserSignedUp = 1000,
    UserProfileUpdated = 1001,
    UserPasswordChanged = 1002,
    UserUsernameChanged = 1003,
    UserDeleted = 1004,

    LoginSucceeded = 1100,
    LoginFailed = 1101,
    LoginLockedOut = 1102,
    LoginMfaChallenged = 1103,
    LoginMfaFailed = 1104,
    RecoveryCodeUsed = 1105,

    MfaEnabled = 1200,
    MfaDisabled = 1201,
    MfaEnrollmentStarted = 1202,

    TokenCreated = 1300,
    TokenRevoked = 1301,
    TokensRevokedAll = 1302,

    OrganizationCreated = 2000,
    OrganizationUpdated = 2001,

    ProductCreated = 2100,
    ProductUpdated = 2101,

    TeamMemberInvited = 2200,
    TeamMemberRoleChanged = 2201,
    TeamMemberRemoved = 2202,
    ApiUserCreated = 2203,
    ApiUserUpdated = 2204,
    ApiUserTokenRegenerated = 2205,
    ApiUserDeleted = 2206,

    DeviceKeyRegistered = 4000,
    DeviceHandshakeRefused = 4001,
    DeviceAutoRegistered = 4002,
    DeviceClaimed = 4003,
    DeviceReleased = 4004,
    DeviceUpdated = 4005,
    DeviceProtocolViolation = 4006,
    DeviceRefusalsSuppressed = 4007,

    ProductDevicesImported = 5000,
    ProductDeviceApproved = 5001,
    ProductDeviceRemoved = 5002,
    ProductDeviceDenied = 5003,
    ProductDeviceUpdated = 5004,
    AdmissionFull = 5010,
    AdmissionAutoApproved = 5011,
    AdmissionLimited = 5012,
    AdmissionQuarantined = 5013,
    AdmissionDenied = 5014,
    AdmissionUnrecognizedAttempt = 5015,

    FirmwareUploaded = 6000,
    FirmwareEdited = 6001,
    FirmwareDeleted = 6002,
    FirmwareReleased = 6003,
    FirmwareUploadRefused = 6004,

    DeviceGroupCreated = 6100,
    DeviceGroupUpdated = 6101,
    DeviceGroupDeleted = 6102,

    ProductDeviceFirmwareChanged = 6200,
    DeviceFlashRequested = 6201,
    OtaSucceeded = 6202,
    OtaFailed = 6203,

    DeviceProtectionEnabled = 6300,
    DeviceProtectionChangeRefused = 6301,
    FlashRefusedByProtection = 6302,
    ServiceModePrepared = 6303,
    ServiceModeGranted = 6304,
    ServiceModeRefused = 6305,
    ServiceModeEnded = 6306,
    ProtectedBootloaderSent = 6307,
    DeviceProtectionReported = 6308,
    DeviceOsModuleImported = 6309,
}
