namespace Bulwark.Firmware;

/// <summary>Why a module was refused; each value names one precise defect.</summary>
public enum FirmwareErrorReason
{
    /// <summary>Shorter than the smallest possible module (prefix + minimal suffix + CRC).</summary>
    TooShort = 1,
    /// <summary>No plausible module_info_t at any known or 4-byte-aligned offset.</summary>
    PrefixNotFound,
    /// <summary>The file is shorter than the prefix's start/end addresses declare.</summary>
    Truncated,
    /// <summary>The file is longer than the prefix declares.</summary>
    TrailingData,
    /// <summary>A combined (multi-module) image; parse its parts separately.</summary>
    CombinedModuleUnsupported,
    /// <summary>Stored CRC-32 differs from the computed one.</summary>
    CrcMismatch,
    /// <summary>Stored SHA-256 differs from the computed one.</summary>
    Sha256Mismatch,
    /// <summary>The prefix names a module function Device OS does not define.</summary>
    UnknownModuleFunction,
    /// <summary>The prefix sets flag bits Device OS does not define.</summary>
    UnknownModuleFlags,
    /// <summary>A prefix dependency has an unknown function, or an empty slot carries an index or version.</summary>
    InvalidDependency,
    /// <summary>The suffix size field is impossible (below 36, between 36 and 40, or overlapping the prefix).</summary>
    InvalidSuffixSize,
    /// <summary>An extension header or length runs outside its area, or is shorter than 4 bytes.</summary>
    MalformedExtension,
    /// <summary>An extension's payload does not fit its type (wrong size, unknown mode or function).</summary>
    InvalidExtensionPayload,
    /// <summary>Prefix extensions are flagged but do not end with an END extension.</summary>
    MissingEndExtension,
    /// <summary>More than one SECURITY_MODE extension, so the protection state is ambiguous.</summary>
    DuplicateSecurityMode,
    /// <summary>The builder cannot apply the requested change to this module.</summary>
    UnsupportedModification,
}

/// <summary>A refusal: the reason code and a message with the offsets and values involved.</summary>
public sealed record FirmwareError(FirmwareErrorReason Reason, string Message)
{
    public override string ToString() => $"{Reason}: {Message}";
}
