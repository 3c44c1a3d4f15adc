namespace Bulwark.Firmware;

/// <summary>A module this module needs at a minimum version; TargetId is set only by DEPENDENCY extensions.</summary>
public readonly record struct ModuleDependency(ModuleFunction Function, byte Index, ushort Version, uint? TargetId = null)
{
    /// <summary>An unused prefix dependency slot (function NONE).</summary>
    public bool IsEmpty => Function == ModuleFunction.None;
}
