using System.CommandLine;
using System.CommandLine.Invocation;
using Bulwark.Cli.Commands;

namespace Bulwark.Cli;

/// <summary>The <c>bulwark</c> command line. <c>Program.cs</c> runs it on the real console; tests run it
/// in-process with their own streams and environment.</summary>
public static class BulwarkCli
{
    /// <summary>Runs one command line against the given streams. <paramref name="environment"/> replaces the
    /// process environment (null reads the real one). Returns the exit code (see <see cref="ExitCodes"/>).</summary>
    public static Task<int> RunAsync(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr,
        IReadOnlyDictionary<string, string?>? environment = null, CancellationToken cancellationToken = default) =>
        RunAsync(args, new CliConsole(stdin, stdout, stderr, environment), handleTermination: false, cancellationToken);

    /// <summary>Runs on the process console, with Ctrl+C cancelling the running command.</summary>
    public static Task<int> RunConsoleAsync(string[] args) => RunAsync(args, CliConsole.FromProcessConsole(), handleTermination: true, CancellationToken.None);

    private static async Task<int> RunAsync(string[] args, CliConsole console, bool handleTermination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var root = BuildRootCommand(new CliApp(console, new GlobalOptions()));
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            foreach (var error in parse.Errors)
            {
                console.Error.WriteLine("error: " + error.Message);
            }
            console.Error.WriteLine($"Run '{UsageHint(parse)} --help' for usage.");
            return ExitCodes.Usage;
        }
        var invocation = new InvocationConfiguration
        {
            Output = console.Out,
            Error = console.Error,
            // Failures are reported as one line, never a stack trace.
            EnableDefaultExceptionHandler = false,
        };
        if (!handleTermination)
        {
            invocation.ProcessTerminationTimeout = null;
        }
        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            console.Error.WriteLine($"error: unexpected failure: {e.Message}");
            return ExitCodes.Error;
        }
        finally
        {
            await console.Out.FlushAsync(CancellationToken.None);
            await console.Error.FlushAsync(CancellationToken.None);
        }
    }

    /// <summary>The command tree. A new command group adds one line here and one file under <c>Commands/</c>.</summary>
    public static RootCommand BuildRootCommand(CliApp app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var root = new RootCommand("bulwark: the command line for a Bulwark device cloud") { HelpName = "bulwark" };
        app.Globals.AddTo(root);
        foreach (var command in LoginCommands.Create(app))
        {
            root.Subcommands.Add(command);
        }
        root.Subcommands.Add(TokenCommands.Create(app));
        root.Subcommands.Add(MfaCommands.Create(app));
        root.Subcommands.Add(AuditCommands.Create(app));
        root.Subcommands.Add(DeviceCommands.Create(app));
        root.Subcommands.Add(SubscribeCommand.Create(app));
        root.Subcommands.Add(KeysCommands.Create(app));
        root.Subcommands.Add(OrgCommands.Create(app));
        // Other groups attach their `product ...` subcommands to this command before it is added.
        var product = ProductCommands.Create(app);
        ProductDeviceCommands.Attach(product, app);
        DeviceProtectionCommands.AttachToProduct(product, app);
        root.Subcommands.Add(product);
        root.Subcommands.Add(DeviceProtectionCommands.Create(app));
        root.Subcommands.Add(TeamCommands.Create(app));
        root.Subcommands.Add(ApiUserCommands.Create(app));
        root.Subcommands.Add(FirmwareCommands.CreateFirmware(app));
        root.Subcommands.Add(FirmwareCommands.CreateGroup(app));
        return root;
    }

    private static string UsageHint(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(result.Command is RootCommand ? "bulwark" : result.Command.Name);
        }
        names.Reverse();
        return string.Join(' ', names);
    }
}
