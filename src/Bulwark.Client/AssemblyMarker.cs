namespace Bulwark.Client;

/// <summary>Marker type for assembly scanning and tests.</summary>
public static class AssemblyMarker;
