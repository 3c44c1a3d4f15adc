namespace Bulwark.Contracts;

/// <summary>Marker type for assembly scanning and tests.</summary>
public static class AssemblyMarker;
