using System.CommandLine;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli.Commands;

/// <summary><c>token list|create|revoke</c>.</summary>
internal static class TokenCommands
{
    public static Command Create(CliApp app)
    {
        var token = new Command("token", "Manage access tokens");
        token.Subcommands.Add(List(app));
        token.Subcommands.Add(CreateToken(app));
        token.Subcommands.Add(Revoke(app));
        return token;
    }

    private static Command List(CliApp app)
    {
        var credentials = new Credentials();
        var command = new Command("list", "List the account's live tokens (asks for the password, and a code when two-step authentication is on)");
        credentials.AddTo(command);
        app.Handle(command, async context =>
        {
            var username = credentials.ReadUsername(context, preferStored: true);
            var password = credentials.ReadPassword(context, $"Password for {username}: ");
            using var client = context.CreateClient();
            IReadOnlyList<AccessTokenSummary> tokens;
            if (context.Value(credentials.Otp) is { Length: > 0 })
            {
                tokens = await credentials.WithOtpAsync(context, otp => client.ListTokensAsync(username, password, otp, context.CancellationToken));
            }
            else
            {
                try
                {
                    tokens = await client.ListTokensAsync(username, password, null, context.CancellationToken);
                }
                catch (BulwarkApiException e) when (e.Error == "mfa_required")
                {
                    tokens = await credentials.WithOtpAsync(context, otp => client.ListTokensAsync(username, password, otp, context.CancellationToken));
                }
            }
            var currentId = await CurrentTokenIdAsync(context, client);
            if (context.Json)
            {
                context.WriteJson(tokens.Select(t => new
                {
                    t.Id,
                    t.Token,
                    t.Client,
                    t.CreatedAt,
                    t.ExpiresAt,
                    t.LastUsedAt,
                    Current = t.Id == currentId,
                }));
                return ExitCodes.Ok;
            }
            var table = new TextTable("", "ID", "TOKEN", "CLIENT", "CREATED", "EXPIRES", "LAST USED");
            foreach (var t in tokens)
            {
                table.Add(t.Id == currentId ? "*" : "", t.Id, t.Token, t.Client, CliContext.Time(t.CreatedAt), CliContext.Time(t.ExpiresAt, "never"),
                    CliContext.Time(t.LastUsedAt, "never"));
            }
            table.WriteTo(context.Console.Out);
            context.Note((tokens.Count == 1 ? "1 token" : $"{tokens.Count} tokens") + (currentId is null ? "" : "; * marks the one this CLI uses"));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<string?> CurrentTokenIdAsync(CliContext context, BulwarkApiClient client)
    {
        if (string.IsNullOrEmpty(context.Token))
        {
            return null;
        }
        try
        {
            return (await client.GetCurrentTokenAsync(context.CancellationToken)).Id;
        }
        catch (BulwarkApiException)
        {
            return null;
        }
    }

    private static Command CreateToken(CliApp app)
    {
        var credentials = new Credentials();
        var expiresIn = new Option<long?>("--expires-in") { Description = "Lifetime in seconds (default: the server's, 90 days)" };
        var neverExpires = new Option<bool>("--never-expires") { Description = "A token that does not expire" };
        var command = new Command("create", "Create a new access token (the current login is kept)");
        credentials.AddTo(command);
        command.Options.Add(expiresIn);
        command.Options.Add(neverExpires);
        app.Handle(command, async context =>
        {
            // Checked in the action, not a parse validator: a validator cannot read a value that failed to convert.
            if (context.Value(neverExpires) && context.Value(expiresIn) is not null)
            {
                throw CliException.Usage("--expires-in and --never-expires cannot be used together");
            }
            if (context.Value(expiresIn) is <= 0)
            {
                throw CliException.Usage("--expires-in must be a positive number of seconds (use --never-expires for a token that does not expire)");
            }
            var username = credentials.ReadUsername(context, preferStored: true);
            var password = credentials.ReadPassword(context, $"Password for {username}: ");
            long? lifetime = context.Value(neverExpires) ? 0 : context.Value(expiresIn);
            using var client = context.CreateClient();
            var token = await credentials.LoginAsync(context, client, username, password, lifetime);
            if (context.Json)
            {
                context.WriteJson(token);
            }
            else
            {
                context.WriteLine(token.AccessToken);
                context.Note(token.ExpiresAt is { } at ? $"New access token expires {CliContext.Time(at)}." : "New access token never expires.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Revoke(CliApp app)
    {
        var tokens = new Argument<string[]>("token") { Description = "Token(s) to revoke, or token ids when logged in", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Revoke every token of the account, this CLI's included" };
        var command = new Command("revoke", "Revoke access tokens");
        command.Arguments.Add(tokens);
        command.Options.Add(all);
        command.Validators.Add(result =>
        {
            if (result.Children.Any(child => child.Errors.Any()))
            {
                return; // already reported; reading the values would throw
            }
            var given = result.GetValue(tokens) ?? [];
            if (result.GetValue(all) == (given.Length > 0))
            {
                result.AddError("give either one or more tokens or --all");
            }
        });
        app.Handle(command, async context =>
        {
            if (context.Value(all))
            {
                using var client = context.CreateAuthenticatedClient();
                await client.RevokeAllTokensAsync(context.CancellationToken);
                context.ForgetStoredToken(context.Token);
                if (context.Json)
                {
                    context.WriteJson(new OkResponse(true, "All tokens revoked"));
                }
                else
                {
                    context.WriteLine("Revoked all tokens; this CLI is logged out too.");
                }
                return ExitCodes.Ok;
            }
            using (var client = context.CreateClient())
            {
                var revoked = new List<string>();
                foreach (var token in context.Value(tokens) ?? [])
                {
                    await client.RevokeTokenAsync(token, context.CancellationToken);
                    revoked.Add(token);
                    if (context.ForgetStoredToken(token))
                    {
                        context.Note("That was this CLI's token; you are now logged out.");
                    }
                }
                if (context.Json)
                {
                    context.WriteJson(new { ok = true, revoked = revoked.Count });
                }
                else
                {
                    context.WriteLine(revoked.Count == 1 ? "Revoked 1 token." : $"Revoked {revoked.Count} tokens.");
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
