using System.CommandLine;
using System.Net;
using Bulwark.Client;

namespace Bulwark.Cli.Commands;

/// <summary><c>login</c>, <c>logout</c>, <c>whoami</c>.</summary>
internal static class LoginCommands
{
    public static IEnumerable<Command> Create(CliApp app)
    {
        yield return Login(app);
        yield return Logout(app);
        yield return WhoAmI(app);
    }

    private static Command Login(CliApp app)
    {
        var credentials = new Credentials();
        var command = new Command("login", "Log in and remember the access token in the config file");
        credentials.AddTo(command);
        app.Handle(command, async context =>
        {
            var username = credentials.ReadUsername(context, preferStored: false);
            var password = credentials.ReadPassword(context);
            using var client = context.CreateClient();
            var token = await credentials.LoginAsync(context, client, username, password, expiresIn: null);
            context.SaveConfig(context.Config with { ApiUrl = context.ApiUrl.AbsoluteUri.TrimEnd('/'), AccessToken = token.AccessToken, Username = username });
            if (context.Json)
            {
                context.WriteJson(new { username, api_url = context.ApiUrl.AbsoluteUri.TrimEnd('/'), expires_at = token.ExpiresAt });
            }
            else
            {
                context.WriteLine($"Logged in as {username} (token expires {CliContext.Time(token.ExpiresAt, "never")}).");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Logout(CliApp app)
    {
        var command = new Command("logout", "Revoke the current access token and forget it");
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var alreadyInvalid = false;
            try
            {
                await client.RevokeCurrentTokenAsync(context.CancellationToken);
            }
            catch (BulwarkApiException e) when (e.StatusCode == HttpStatusCode.Unauthorized)
            {
                // Expired or revoked elsewhere: nothing left to revoke, still forget it.
                alreadyInvalid = true;
            }
            context.ForgetStoredToken(context.Token);
            if (context.Json)
            {
                context.WriteJson(new { ok = true, already_invalid = alreadyInvalid });
            }
            else
            {
                context.WriteLine(alreadyInvalid ? "Logged out (the token was no longer valid)." : "Logged out.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command WhoAmI(CliApp app)
    {
        var command = new Command("whoami", "Show the logged-in account");
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var user = await client.GetUserAsync(context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(user);
            }
            else
            {
                context.WriteLine(user.Username);
                context.Note($"two-step authentication: {(user.Mfa.Enabled ? "on" : "off")}; server: {context.ApiUrl.AbsoluteUri.TrimEnd('/')}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
