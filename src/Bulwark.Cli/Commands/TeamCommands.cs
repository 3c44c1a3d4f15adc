using System.CommandLine;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli.Commands;

/// <summary><c>team list|invite|role|remove</c> on a product (<c>--product</c>) or an organization (<c>--org</c>).</summary>
internal static class TeamCommands
{
    /// <summary>The roles as Particle spells them on the wire.</summary>
    public static readonly string[] Roles = ["Owner", "Administrator", "Developer", "Support", "View-only"];

    public static Command Create(CliApp app)
    {
        var team = new Command("team", "The people on a product's or organization's team and their roles");
        team.Subcommands.Add(List(app));
        team.Subcommands.Add(Invite(app));
        team.Subcommands.Add(Role(app));
        team.Subcommands.Add(Remove(app));
        return team;
    }

    /// <summary><c>--product P</c> and <c>--org O</c>: exactly one says whose team.</summary>
    internal sealed class TeamTarget
    {
        public Option<string?> Product { get; } = new("--product", "-p") { Description = "The product (ID or slug)" };

        public Option<string?> Org { get; } = new("--org", "-o") { Description = "The organization (ID or slug)" };

        public void AddTo(Command command)
        {
            command.Options.Add(Product);
            command.Options.Add(Org);
        }

        public TeamOf Resolve(CliContext context)
        {
            var product = context.Value(Product);
            var org = context.Value(Org);
            return (string.IsNullOrWhiteSpace(product), string.IsNullOrWhiteSpace(org)) switch
            {
                (false, true) => TeamOf.Product(product!),
                (true, false) => TeamOf.Organization(org!),
                (false, false) => throw CliException.Usage("give --product or --org, not both"),
                _ => throw CliException.Usage("give --product P or --org O"),
            };
        }
    }

    /// <summary>A role name as the server spells it, accepting any case and the ids (<c>view-only</c>, <c>admin</c>);
    /// an unknown role is a usage error.</summary>
    public static string ParseRole(string text)
    {
        var key = text.Trim().ToLowerInvariant().Replace('_', '-').Replace(' ', '-');
        return key switch
        {
            "owner" => "Owner",
            "administrator" or "admin" => "Administrator",
            "developer" => "Developer",
            "support" => "Support",
            "view-only" or "viewonly" or "viewer" => "View-only",
            _ => throw CliException.Usage($"unknown role '{text}'; roles are {string.Join(", ", Roles)}"),
        };
    }

    private static Argument<string> UsernameArgument() => new("username") { Description = "The member's username (email address)" };

    private static Command List(CliApp app)
    {
        var target = new TeamTarget();
        var command = new Command("list", "List the team: role, two-step authentication, last activity and live tokens of each member");
        target.AddTo(command);
        app.Handle(command, async context =>
        {
            var team = target.Resolve(context);
            using var client = context.CreateAuthenticatedClient();
            var members = await client.ListTeamAsync(team, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(members);
                return ExitCodes.Ok;
            }
            var table = new TextTable("USERNAME", "ROLE", "2FA", "LAST ACTIVE", "TOKENS");
            foreach (var m in members)
            {
                table.Add(m.Username, m.IsProgrammatic ? "API user: " + (m.FriendlyName ?? "") : m.Role?.Name ?? "-",
                    m.IsProgrammatic ? "-" : m.NoMfa ? "no" : "yes", CliContext.Time(m.LastActiveAt, "never"),
                    m.TokenCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            table.WriteTo(context.Console.Out);
            var withoutMfa = members.Count(m => !m.IsProgrammatic && m.NoMfa);
            context.Note((members.Count == 1 ? "1 member" : $"{members.Count} members") + (withoutMfa > 0 ? $", {withoutMfa} without two-step authentication" : ""));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Invite(CliApp app)
    {
        var target = new TeamTarget();
        var username = UsernameArgument();
        var role = new Option<string?>("--role", "-r") { Description = $"{string.Join(", ", Roles)} (default Developer)" };
        var command = new Command("invite", "Add a person (who has signed up already) to the team") { username, role };
        target.AddTo(command);
        app.Handle(command, async context =>
        {
            var team = target.Resolve(context);
            var roleName = context.Value(role) is { Length: > 0 } r ? ParseRole(r) : null;
            using var client = context.CreateAuthenticatedClient();
            var result = await client.InviteTeamMemberAsync(team, context.Value(username)!, roleName, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine($"Added {result.Invited.Username} to the {team} team as {result.Invited.Role.Name}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Role(CliApp app)
    {
        var target = new TeamTarget();
        var username = UsernameArgument();
        var role = new Argument<string>("role") { Description = string.Join(", ", Roles) };
        var command = new Command("role", "Change a member's role") { username, role };
        target.AddTo(command);
        app.Handle(command, async context =>
        {
            var team = target.Resolve(context);
            var roleName = ParseRole(context.Value(role)!);
            using var client = context.CreateAuthenticatedClient();
            var result = await client.SetTeamMemberRoleAsync(team, context.Value(username)!, roleName, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine($"{result.Updated.Username} is now {result.Updated.Role?.Name ?? roleName} on the {team} team.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Remove(CliApp app) =>
        RemoveMember(app, "remove", "Remove a member from the team; their access ends at once", UsernameArgument(),
            (username, team) => $"Removed {username} from the {team} team.");

    /// <summary>One removal command for people (<c>team remove</c>) and API users (<c>api-user delete</c>): the server
    /// treats both as team members.</summary>
    internal static Command RemoveMember(CliApp app, string name, string description, Argument<string> username,
        Func<string, string, string> doneMessage)
    {
        var target = new TeamTarget();
        var command = new Command(name, description) { username };
        target.AddTo(command);
        app.Handle(command, async context =>
        {
            var team = target.Resolve(context);
            using var client = context.CreateAuthenticatedClient();
            var result = await client.RemoveTeamMemberAsync(team, context.Value(username)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine(doneMessage(context.Value(username)!, team.ToString()!));
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
