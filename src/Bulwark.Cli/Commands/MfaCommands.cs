using System.CommandLine;
using Bulwark.Client;

namespace Bulwark.Cli.Commands;

/// <summary><c>mfa enable|disable</c>: two-step authentication with an authenticator app.</summary>
internal static class MfaCommands
{
    public static Command Create(CliApp app)
    {
        var mfa = new Command("mfa", "Two-step authentication (TOTP authenticator app)");
        mfa.Subcommands.Add(Enable(app));
        mfa.Subcommands.Add(Disable(app));
        return mfa;
    }

    private static Command Enable(CliApp app)
    {
        var credentials = new Credentials();
        var invalidate = new Option<bool>("--invalidate-tokens") { Description = "Also revoke every other token of the account" };
        var command = new Command("enable", "Turn on two-step authentication: shows the secret, asks for a first code, prints recovery codes");
        command.Options.Add(invalidate);
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var enrollment = await client.StartMfaEnrollmentAsync(context.CancellationToken);
            // The secret must be seen before a code can be typed; in --json mode it goes to stderr so stdout stays one document.
            var show = context.Json ? context.Console.Error : context.Console.Out;
            show.WriteLine("Add this account to your authenticator app:");
            show.WriteLine($"  secret: {enrollment.Secret}");
            show.WriteLine($"  uri:    {enrollment.OtpauthUri}");
            show.Flush();
            var confirmed = await credentials.WithOtpAsync(context,
                otp => client.ConfirmMfaEnrollmentAsync(enrollment.MfaToken, otp, context.Value(invalidate), context.CancellationToken),
                "Code from the authenticator app: ");
            if (context.Json)
            {
                context.WriteJson(new { confirmed.Enrolled, enrollment.Secret, enrollment.OtpauthUri, confirmed.RecoveryCodes });
                return ExitCodes.Ok;
            }
            context.WriteLine("Two-step authentication is on.");
            context.WriteLine("Recovery codes (each works once in place of a code; store them safely, they are not shown again):");
            foreach (var code in confirmed.RecoveryCodes)
            {
                context.WriteLine("  " + code);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Disable(CliApp app)
    {
        var password = new Option<string?>("--password", "-p") { Description = "Current password (prompted without echo when omitted)" };
        var command = new Command("disable", "Turn off two-step authentication (asks for the password)");
        command.Options.Add(password);
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var current = context.Value(password);
            if (string.IsNullOrEmpty(current))
            {
                current = context.Console.PromptSecret("Current password: ");
            }
            if (string.IsNullOrEmpty(current))
            {
                throw CliException.Usage("the current password is required (pass --password)");
            }
            var result = await client.DisableMfaAsync(current, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine("Two-step authentication is off.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
