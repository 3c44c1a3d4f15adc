namespace Bulwark.Protocol.Dtls;

/// <summary>Record content types, including the draft-05 CID type and Particle's "session moved" variant.</summary>
public enum DtlsContentType : byte
{
    ChangeCipherSpec = 20,
    Alert = 21,
    Handshake = 22,
    ApplicationData = 23,

    /// <summary>draft-ietf-tls-dtls-connection-id-05 (RFC 9146 later moved it); the AAD always uses this value.</summary>
    ConnectionId = 25,

    /// <summary>Device OS's ALT_CID_CONTENT_TYPE: a CID record from a device whose address may have changed.</summary>
    ConnectionIdMoved = 253,
}
