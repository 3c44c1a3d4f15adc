namespace Bulwark.DeviceSim.Cli;

/// <summary>A failure the CLI reports as one <c>error: ...</c> line with a chosen exit code.</summary>
public sealed class SimCliException : Exception
{
    public SimCliException(int exitCode, string message, Exception? inner = null)
        : base(message, inner)
    {
        ExitCode = exitCode;
    }

    public SimCliException()
        : this(SimExitCodes.Error, "bulwark-sim failed")
    {
    }

    public SimCliException(string message)
        : this(SimExitCodes.Error, message)
    {
    }

    public SimCliException(string message, Exception inner)
        : this(SimExitCodes.Error, message, inner)
    {
    }

    public int ExitCode { get; }
}
