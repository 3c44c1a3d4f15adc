using System.CommandLine;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli.Commands;

/// <summary><c>org list|get|create|update</c>.</summary>
internal static class OrgCommands
{
    public static Command Create(CliApp app)
    {
        var org = new Command("org", "Organizations: enterprise accounts that own products and have a team");
        org.Subcommands.Add(List(app));
        org.Subcommands.Add(Get(app));
        org.Subcommands.Add(CreateOrg(app));
        org.Subcommands.Add(Update(app));
        return org;
    }

    private static Argument<string> OrgArgument() => new("org") { Description = "Organization ID or slug" };

    private static Command List(CliApp app)
    {
        var command = new Command("list", "List the organizations you belong to");
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var orgs = await client.ListOrganizationsAsync(context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(orgs);
                return ExitCodes.Ok;
            }
            var table = new TextTable("SLUG", "NAME", "ID", "REQUIRE 2FA", "CREATED");
            foreach (var o in orgs)
            {
                table.Add(o.Slug, o.Name, o.Id, o.RequireMfa ? "yes" : "no", CliContext.Time(o.CreatedAt));
            }
            table.WriteTo(context.Console.Out);
            context.Note(orgs.Count == 1 ? "1 organization" : $"{orgs.Count} organizations");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Get(CliApp app)
    {
        var id = OrgArgument();
        var command = new Command("get", "Show one organization") { id };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            Write(context, await client.GetOrganizationAsync(context.Value(id)!, context.CancellationToken));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command CreateOrg(CliApp app)
    {
        var name = new Argument<string>("name") { Description = "The organization's name" };
        var slug = new Option<string?>("--slug") { Description = "The URL name (default: made from the name)" };
        var command = new Command("create", "Create an organization; you become its Owner") { name, slug };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var org = await client.CreateOrganizationAsync(context.Value(name)!, context.Value(slug), context.CancellationToken);
            if (!context.Json)
            {
                context.Note($"Created organization {org.Slug}.");
            }
            Write(context, org);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Update(CliApp app)
    {
        var id = OrgArgument();
        var name = new Option<string?>("--name") { Description = "A new name" };
        var requireMfa = new Option<bool?>("--require-mfa") { Description = "true: every human member must have two-step authentication" };
        var command = new Command("update", "Change an organization's name or 2FA requirement") { id, name, requireMfa };
        app.Handle(command, async context =>
        {
            var update = new OrganizationUpdate { Name = context.Value(name), RequireMfa = context.Value(requireMfa) };
            if (update.Name is null && update.RequireMfa is null)
            {
                throw CliException.Usage("nothing to update: give --name or --require-mfa");
            }
            using var client = context.CreateAuthenticatedClient();
            Write(context, await client.UpdateOrganizationAsync(context.Value(id)!, update, context.CancellationToken));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void Write(CliContext context, OrganizationResponse org)
    {
        if (context.Json)
        {
            context.WriteJson(org);
            return;
        }
        var table = new TextTable("FIELD", "VALUE");
        table.Add("id", org.Id);
        table.Add("slug", org.Slug);
        table.Add("name", org.Name);
        table.Add("require 2fa", org.RequireMfa ? "yes" : "no");
        table.Add("created", CliContext.Time(org.CreatedAt));
        table.WriteTo(context.Console.Out);
    }
}
