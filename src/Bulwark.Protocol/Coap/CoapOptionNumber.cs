namespace Bulwark.Protocol.Coap;

/// <summary>CoAP option numbers used by Particle devices (RFC 7252, 7959, 7967, and Particle's OTA v3 range).</summary>
/// <remarks>Any 16-bit number may appear on the wire; unnamed values are carried through unchanged.</remarks>
public enum CoapOptionNumber : ushort
{
    IfMatch = 1,
    UriHost = 3,
    ETag = 4,
    IfNoneMatch = 5,
    Observe = 6,
    UriPort = 7,
    LocationPath = 8,
    UriPath = 11,
    ContentFormat = 12,
    MaxAge = 14,
    UriQuery = 15,
    Accept = 17,
    LocationQuery = 20,
    Block2 = 23,
    Block1 = 27,
    Size2 = 28,
    ProxyUri = 35,
    ProxyScheme = 39,
    Size1 = 60,
    NoResponse = 258,
    OtaChunkIndex = 2049,
    OtaWindowSize = 2053,
    OtaFileSize = 2057,
    OtaFileSha256 = 2061,
    OtaChunkSize = 2065,
    OtaDiscardData = 2069,
    OtaCancelUpdate = 2073,
    OtaModuleFunction = 2077,
}
