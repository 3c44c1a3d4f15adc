namespace Bulwark.Firmware;

/// <summary>Flags byte of the module prefix (<c>module_info_flags_t</c>).</summary>
[Flags]
public enum ModuleFlags : byte
{
    None = 0,
    DropModuleInfo = 0x01,
    Compressed = 0x02,
    Combined = 0x04,
    Encrypted = 0x08,
    PrefixExtensions = 0x10,
}
