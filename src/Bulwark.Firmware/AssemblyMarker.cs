namespace Bulwark.Firmware;

/// <summary>Marker type for assembly scanning and tests.</summary>
public static class AssemblyMarker;
