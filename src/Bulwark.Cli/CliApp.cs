using System.CommandLine;
using System.Net;
using Bulwark.Client;

namespace Bulwark.Cli;

/// <summary>Shared by every command group: the console, the global options, and <see cref="Run"/>, which
/// turns a command body into an exit code and every failure into one <c>error: ...</c> line.</summary>
public sealed class CliApp(CliConsole console, GlobalOptions globals)
{
    public CliConsole Console { get; } = console;

    public GlobalOptions Globals { get; } = globals;

    /// <summary>Sets <paramref name="command"/>'s action to <paramref name="body"/>, wrapped in the error handling.</summary>
    public void Handle(Command command, Func<CliContext, Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(body);
        command.SetAction((parse, cancellationToken) => Run(parse, body, cancellationToken));
    }

    public async Task<int> Run(ParseResult parse, Func<CliContext, Task<int>> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(body);
        CliContext? context = null;
        try
        {
            context = new CliContext(this, parse, cancellationToken);
            return await body(context);
        }
        catch (CliException e)
        {
            return Fail(e.ExitCode, e.Message);
        }
        catch (BulwarkApiException e)
        {
            var code = ExitCodeFor(e);
            var message = e.Description;
            if (code == ExitCodes.NotAuthenticated && e.StatusCode == HttpStatusCode.Unauthorized && context?.UsesStoredLogin == true)
            {
                message += "; run `bulwark login`";
            }
            return Fail(code, message);
        }
        catch (HttpRequestException e) when (e.StatusCode is null)
        {
            return Fail(ExitCodes.Unreachable, $"cannot reach the Bulwark server at {context?.ApiUrl.AbsoluteUri.TrimEnd('/')}: {Innermost(e).Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Fail(ExitCodes.Unreachable, $"the Bulwark server at {context?.ApiUrl.AbsoluteUri.TrimEnd('/')} did not answer in time");
        }
        catch (OperationCanceledException)
        {
            return Fail(ExitCodes.Error, "cancelled");
        }
        catch (IOException e)
        {
            return Fail(ExitCodes.Error, e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            return Fail(ExitCodes.Error, e.Message);
        }
    }

    /// <summary>Maps an API error to the CLI's exit codes.</summary>
    public static int ExitCodeFor(BulwarkApiException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.Error switch
        {
            "mfa_required" or "invalid_otp" or "invalid_mfa_token" => ExitCodes.MfaFailed,
            "invalid_grant" => ExitCodes.NotAuthenticated,
            _ => (int)e.StatusCode switch
            {
                401 => ExitCodes.NotAuthenticated,
                403 => ExitCodes.Forbidden,
                404 => ExitCodes.NotFound,
                429 => ExitCodes.RateLimited,
                >= 400 and < 500 when e.Error == "invalid_request" => ExitCodes.Usage,
                _ => ExitCodes.Error,
            },
        };
    }

    private int Fail(int exitCode, string message)
    {
        Console.Error.WriteLine("error: " + message.TrimEnd());
        return exitCode;
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }
        return e;
    }
}
