using System.CommandLine;
using System.Globalization;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli.Commands;

/// <summary><c>api-user create|list|regenerate|delete</c>: programmatic team members with a fixed set of scopes on one
/// product (<c>--product</c>) or organization (<c>--org</c>).</summary>
internal static class ApiUserCommands
{
    public static Command Create(CliApp app)
    {
        var apiUser = new Command("api-user", "API users: tokens with exactly the given scopes on one product or organization");
        apiUser.Subcommands.Add(CreateApiUser(app));
        apiUser.Subcommands.Add(List(app));
        apiUser.Subcommands.Add(Regenerate(app));
        apiUser.Subcommands.Add(Delete(app));
        return apiUser;
    }

    private static Argument<string> UsernameArgument() => new("username") { Description = "The API user's username (from `api-user list`)" };

    private static Command CreateApiUser(CliApp app)
    {
        var target = new TeamCommands.TeamTarget();
        var name = new Option<string>("--name") { Description = "A friendly name", Required = true };
        var scopes = new Option<string[]>("--scope") { Description = "A scope, e.g. devices:list (repeat for more)", Required = true };
        var command = new Command("create", "Create an API user and print its token (shown only once)") { name, scopes };
        target.AddTo(command);
        app.Handle(command, async context =>
        {
            var team = target.Resolve(context);
            var scopeList = (context.Value(scopes) ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .ToList();
            if (scopeList.Count == 0)
            {
                throw CliException.Usage("give at least one --scope");
            }
            using var client = context.CreateAuthenticatedClient();
            var result = await client.CreateApiUserAsync(team, context.Value(name)!, scopeList, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
                return ExitCodes.Ok;
            }
            context.Note($"Created API user {result.Created.Username} on the {team} team with {string.Join(", ", result.Created.Scopes)}.");
            context.Note("Its token is shown only now; store it safely:");
            WriteToken(context, result.Created.Tokens);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var target = new TeamCommands.TeamTarget();
        var command = new Command("list", "List the team's API users");
        target.AddTo(command);
        app.Handle(command, async context =>
        {
            var team = target.Resolve(context);
            using var client = context.CreateAuthenticatedClient();
            var users = (await client.ListTeamAsync(team, context.CancellationToken)).Where(m => m.IsProgrammatic).ToList();
            if (context.Json)
            {
                context.WriteJson(users);
                return ExitCodes.Ok;
            }
            var table = new TextTable("USERNAME", "NAME", "SCOPES", "TOKENS", "LAST ACTIVE");
            foreach (var u in users)
            {
                table.Add(u.Username, u.FriendlyName ?? "-", u.Scopes is { Count: > 0 } s ? string.Join(",", s) : "-",
                    u.TokenCount.ToString(CultureInfo.InvariantCulture), CliContext.Time(u.LastActiveAt, "never"));
            }
            table.WriteTo(context.Console.Out);
            context.Note(users.Count == 1 ? "1 API user" : $"{users.Count} API users");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Regenerate(CliApp app)
    {
        var target = new TeamCommands.TeamTarget();
        var username = UsernameArgument();
        var command = new Command("regenerate", "Issue a new token for an API user; the old one stops working") { username };
        target.AddTo(command);
        app.Handle(command, async context =>
        {
            var team = target.Resolve(context);
            using var client = context.CreateAuthenticatedClient();
            var result = await client.RegenerateApiUserTokenAsync(team, context.Value(username)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
                return ExitCodes.Ok;
            }
            context.Note($"New token for {result.Updated.Username}; the old one no longer works. It is shown only now:");
            WriteToken(context, result.Updated.Tokens);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Delete(CliApp app) =>
        TeamCommands.RemoveMember(app, "delete", "Delete an API user and its token", UsernameArgument(),
            (username, _) => $"Deleted API user {username}.");

    private static void WriteToken(CliContext context, IReadOnlyList<ApiUserToken>? tokens)
    {
        var token = tokens?.FirstOrDefault()?.Token;
        if (string.IsNullOrEmpty(token))
        {
            throw new CliException("the server did not return a token");
        }
        context.WriteLine(token);
    }
}
