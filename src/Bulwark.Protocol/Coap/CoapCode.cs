namespace Bulwark.Protocol.Coap;

/// <summary>A CoAP code: 3-bit class and 5-bit detail, written "c.dd" (RFC 7252 section 3).</summary>
public readonly record struct CoapCode(byte Value)
{
    public static readonly CoapCode Empty = new(0x00);
    public static readonly CoapCode Get = new(0x01);
    public static readonly CoapCode Post = new(0x02);
    public static readonly CoapCode Put = new(0x03);
    public static readonly CoapCode Delete = new(0x04);
    public static readonly CoapCode Created = From(2, 1);
    public static readonly CoapCode Deleted = From(2, 2);
    public static readonly CoapCode Valid = From(2, 3);
    public static readonly CoapCode Changed = From(2, 4);
    public static readonly CoapCode Content = From(2, 5);
    public static readonly CoapCode Continue = From(2, 31);
    public static readonly CoapCode BadRequest = From(4, 0);
    public static readonly CoapCode Unauthorized = From(4, 1);
    public static readonly CoapCode Forbidden = From(4, 3);
    public static readonly CoapCode NotFound = From(4, 4);
    public static readonly CoapCode MethodNotAllowed = From(4, 5);
    public static readonly CoapCode RequestEntityIncomplete = From(4, 8);
    public static readonly CoapCode RequestEntityTooLarge = From(4, 13);
    public static readonly CoapCode InternalServerError = From(5, 0);
    public static readonly CoapCode NotImplemented = From(5, 1);
    public static readonly CoapCode ServiceUnavailable = From(5, 3);

    /// <summary>Builds a code from its class (0..7) and detail (0..31).</summary>
    public static CoapCode From(int codeClass, int detail)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)codeClass, 7u, nameof(codeClass));
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)detail, 31u, nameof(detail));
        return new CoapCode((byte)((codeClass << 5) | detail));
    }

    public int Class => Value >> 5;

    public int Detail => Value & 0x1F;

    public bool IsEmpty => Value == 0;

    /// <summary>Class 0 with a non-zero detail: GET, POST, PUT, DELETE and friends.</summary>
    public bool IsRequest => Class == 0 && Value != 0;

    /// <summary>Classes 2, 4 and 5.</summary>
    public bool IsResponse => Class is 2 or 4 or 5;

    public bool IsSuccess => Class == 2;

    public override string ToString() => $"{Class}.{Detail:D2}";
}
