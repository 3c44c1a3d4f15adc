namespace Bulwark.Firmware;

/// <summary>Value of the SECURITY_MODE extension; Protected on the bootloader turns on Device Protection.</summary>
public enum SecurityMode : byte
{
    None = 0,
    Protected = 1,
}
