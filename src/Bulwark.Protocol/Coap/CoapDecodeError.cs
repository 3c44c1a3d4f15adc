namespace Bulwark.Protocol.Coap;

/// <summary>Why a byte sequence is not a well-formed CoAP message.</summary>
public enum CoapDecodeError
{
    None = 0,
    /// <summary>Fewer than the 4 header bytes.</summary>
    TooShort,
    /// <summary>The version bits are not 1.</summary>
    UnsupportedVersion,
    /// <summary>Token length 9..15, reserved by RFC 7252.</summary>
    InvalidTokenLength,
    /// <summary>The message ends inside the token.</summary>
    TruncatedToken,
    /// <summary>An option delta or length nibble of 15 outside the payload marker.</summary>
    ReservedOptionNibble,
    /// <summary>The message ends inside an option header or value.</summary>
    TruncatedOption,
    /// <summary>The running option number passed 65535.</summary>
    OptionNumberOverflow,
    /// <summary>More options than <see cref="CoapMessage.MaxOptionCount"/>.</summary>
    TooManyOptions,
    /// <summary>A payload marker followed by nothing (RFC 7252 3: a format error).</summary>
    EmptyPayloadAfterMarker,
    /// <summary>Code 0.00 with a token, options or payload.</summary>
    EmptyMessageNotEmpty,
}
