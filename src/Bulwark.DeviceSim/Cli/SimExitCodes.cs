namespace Bulwark.DeviceSim.Cli;

/// <summary>Exit codes of <c>bulwark-sim</c>.</summary>
public static class SimExitCodes
{
    public const int Ok = 0;
    /// <summary>Anything unexpected (I/O failure, cancelled before anything connected).</summary>
    public const int Error = 1;
    /// <summary>Bad arguments or input files (unparsable server address, bad server key, bad or missing device keys).</summary>
    public const int Usage = 2;
    /// <summary>The server could not be reached.</summary>
    public const int Unreachable = 3;
    /// <summary>The server refused the handshake (keys not registered, or the wrong server key).</summary>
    public const int HandshakeRefused = 4;
}
