namespace Bulwark.Cli;

/// <summary>The process exit codes of <c>bulwark</c>; scripts rely on them, so they never change meaning.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Error = 1;
    public const int Usage = 2;

    /// <summary>Not logged in, bad credentials, or the token is invalid, expired or revoked (HTTP 401).</summary>
    public const int NotAuthenticated = 3;

    /// <summary>HTTP 403.</summary>
    public const int Forbidden = 4;

    /// <summary>HTTP 404.</summary>
    public const int NotFound = 5;

    /// <summary>Two-step authentication failed: wrong, reused or missing one-time code.</summary>
    public const int MfaFailed = 6;

    /// <summary>HTTP 429: rate limited or locked out after too many failures.</summary>
    public const int RateLimited = 7;

    /// <summary>The server could not be reached (connection refused, DNS, timeout).</summary>
    public const int Unreachable = 8;

    /// <summary>A device's local control channel could not be reached or answered garbage.</summary>
    public const int DeviceUnavailable = 9;

    /// <summary>The device refused a local control request (a Device OS system error, e.g. SYSTEM_ERROR_PROTECTED).</summary>
    public const int DeviceRefused = 10;
}

/// <summary>A failure the CLI reports as one line on stderr with a chosen exit code.</summary>
public sealed class CliException : Exception
{
    public CliException(int exitCode, string message)
        : base(message) => ExitCode = exitCode;

    public CliException()
        : this(ExitCodes.Error, "The command failed")
    {
    }

    public CliException(string message)
        : this(ExitCodes.Error, message)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException) => ExitCode = ExitCodes.Error;

    public int ExitCode { get; }

    public static CliException Usage(string message) => new(ExitCodes.Usage, message);

    public static CliException NotLoggedIn() => new(ExitCodes.NotAuthenticated, "You are not logged in; run `bulwark login` first");
}
