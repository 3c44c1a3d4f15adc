using System.CommandLine;
using System.Security.Cryptography;
using Bulwark.DeviceSim.Fleet;

namespace Bulwark.DeviceSim.Cli;

/// <summary>The <c>bulwark-sim</c> command line; <c>Program.cs</c> runs it on the console, tests in-process.</summary>
public static class SimCli
{
    /// <summary>Runs one command line; returns the exit code (see <see cref="SimExitCodes"/>).</summary>
    public static async Task<int> RunAsync(string[] args, SimConsole console, bool handleTermination = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        RootCommand root = BuildRootCommand(console);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await console.Error.WriteLineAsync("error: " + error.Message);
            }

            await console.Error.WriteLineAsync("Run 'bulwark-sim --help' for usage.");
            return SimExitCodes.Usage;
        }

        var invocation = new InvocationConfiguration
        {
            Output = console.Out,
            Error = console.Error,
            EnableDefaultExceptionHandler = false,
            // A large fleet needs a few seconds to say Goodbye after Ctrl+C.
            ProcessTerminationTimeout = handleTermination ? TimeSpan.FromSeconds(15) : null,
        };
        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken);
        }
        finally
        {
            await console.Out.FlushAsync(CancellationToken.None);
            await console.Error.FlushAsync(CancellationToken.None);
        }
    }

    public static RootCommand BuildRootCommand(SimConsole console)
    {
        var root = new RootCommand("bulwark-sim: virtual Particle devices (Gen2 TCP, Gen3 UDP/DTLS) for end-to-end and load tests");
        var keys = new Command("keys", "Manage virtual device keys");
        keys.Subcommands.Add(KeysGenerateCommand.Create(console));
        root.Subcommands.Add(keys);
        root.Subcommands.Add(RunCommand.Create(console));
        return root;
    }

    /// <summary>Turns every expected failure into one <c>error:</c> line and its exit code.</summary>
    internal static async Task<int> Guard(SimConsole console, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (SimCliException e)
        {
            return await FailAsync(console, e.ExitCode, e.Message);
        }
        catch (DeviceKeyStoreException e)
        {
            return await FailAsync(console, SimExitCodes.Usage, e.Message);
        }
        catch (OperationCanceledException)
        {
            return await FailAsync(console, SimExitCodes.Error, "cancelled");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            return await FailAsync(console, SimExitCodes.Error, e.Message);
        }
    }

    private static async Task<int> FailAsync(SimConsole console, int code, string message)
    {
        await console.Error.WriteLineAsync("error: " + message);
        return code;
    }
}
