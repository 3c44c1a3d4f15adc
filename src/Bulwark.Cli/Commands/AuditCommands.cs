using System.CommandLine;
using Bulwark.Client;

namespace Bulwark.Cli.Commands;

/// <summary><c>audit list</c>: the account's security events.</summary>
internal static class AuditCommands
{
    public static Command Create(CliApp app)
    {
        var audit = new Command("audit", "The account's security log");
        audit.Subcommands.Add(List(app));
        return audit;
    }

    private static Command List(CliApp app)
    {
        var limit = new Option<int?>("--limit", "-n") { Description = "How many events (default 100, at most 1000)" };
        var before = new Option<long?>("--before") { Description = "Only events older than this event id (paging)" };
        var eventType = new Option<string?>("--event") { Description = "Only this event type, e.g. LoginFailed" };
        var command = new Command("list", "List security events about the account, newest first");
        command.Options.Add(limit);
        command.Options.Add(before);
        command.Options.Add(eventType);
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var log = await client.GetAuditLogAsync(new AuditQuery(context.Value(limit), context.Value(before), context.Value(eventType)),
                context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(log);
                return ExitCodes.Ok;
            }
            var table = new TextTable("ID", "TIME", "EVENT", "ACTOR", "IP", "DETAILS");
            foreach (var e in log.Events)
            {
                table.Add(e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), CliContext.Time(e.OccurredAt), e.Event,
                    e.Actor ?? "-", e.IpAddress ?? "-", e.Details ?? "");
            }
            table.WriteTo(context.Console.Out);
            return ExitCodes.Ok;
        });
        return command;
    }
}
