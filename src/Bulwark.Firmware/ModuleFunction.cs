namespace Bulwark.Firmware;

/// <summary>What a module is for (<c>module_function_t</c> in Device OS).</summary>
public enum ModuleFunction : byte
{
    None = 0,
    Resource = 1,
    Bootloader = 2,
    MonoFirmware = 3,
    SystemPart = 4,
    UserPart = 5,
    Settings = 6,
    NcpFirmware = 7,
    RadioStack = 8,
    Asset = 9,
}

/// <summary>Conversions between module functions and their Describe letters.</summary>
public static class ModuleFunctionInfo
{
    // Index = function value; '_' (settings) is unused by Device OS but kept so the table stays positional.
    private const string DescribeLetters = "nrbmsu_cat";

    /// <summary>True for the ten functions Device OS defines.</summary>
    public static bool IsKnown(this ModuleFunction function) => (byte)function < DescribeLetters.Length;

    /// <summary>The letter the Describe JSON uses (<c>f</c>), or '?' for an unknown function.</summary>
    public static char ToDescribeLetter(this ModuleFunction function) =>
        function.IsKnown() ? DescribeLetters[(byte)function] : '?';

    /// <summary>Parses a Describe letter back into a function.</summary>
    public static bool TryFromDescribeLetter(char letter, out ModuleFunction function)
    {
        var index = DescribeLetters.IndexOf(letter, StringComparison.Ordinal);
        function = index < 0 ? ModuleFunction.None : (ModuleFunction)index;
        return index >= 0;
    }
}
