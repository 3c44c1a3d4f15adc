namespace Bulwark.Protocol.Coap;

/// <summary>The two-bit CoAP message type (RFC 7252 section 3).</summary>
public enum CoapMessageType : byte
{
    Confirmable = 0,
    NonConfirmable = 1,
    Acknowledgement = 2,
    Reset = 3,
}
