using System.CommandLine;
using System.Globalization;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli.Commands;

/// <summary><c>audit list</c>: the account's security events, or a product's (<c>--product</c>) or organization's
/// (<c>--org</c>) audit log.</summary>
internal static class AuditCommands
{
    public static Command Create(CliApp app)
    {
        var audit = new Command("audit", "The account's security log, or a product's or organization's audit log");
        audit.Subcommands.Add(List(app));
        return audit;
    }

    private static Command List(CliApp app)
    {
        var limit = new Option<int?>("--limit", "-n") { Description = "How many events (default 100, at most 1000)" };
        var before = new Option<long?>("--before") { Description = "Only events older than this event id (paging)" };
        var eventType = new Option<string?>("--event") { Description = "Only this event type, e.g. LoginFailed or TeamMemberInvited" };
        var target = new TeamCommands.TeamTarget();
        var actor = new Option<string?>("--actor") { Description = "Only events by this username (with --product or --org)" };
        var subject = new Option<string?>("--target") { Description = "Only events about this username (with --product or --org)" };
        var since = new Option<string?>("--since") { Description = "Only events at or after this ISO-8601 time (with --product or --org)" };
        var until = new Option<string?>("--until") { Description = "Only events before this ISO-8601 time (with --product or --org)" };
        var command = new Command("list", "List audit events, newest first: your account's, or with --product/--org that product's or organization's");
        command.Options.Add(limit);
        command.Options.Add(before);
        command.Options.Add(eventType);
        target.AddTo(command);
        command.Options.Add(actor);
        command.Options.Add(subject);
        command.Options.Add(since);
        command.Options.Add(until);
        app.Handle(command, async context =>
        {
            AuditLogResponse log;
            if (string.IsNullOrWhiteSpace(context.Value(target.Product)) && string.IsNullOrWhiteSpace(context.Value(target.Org)))
            {
                if (context.Value(actor) is not null || context.Value(subject) is not null || context.Value(since) is not null || context.Value(until) is not null)
                {
                    throw CliException.Usage("--actor, --target, --since and --until filter a product's or organization's log: add --product P or --org O");
                }
                using var client = context.CreateAuthenticatedClient();
                log = await client.GetAuditLogAsync(new AuditQuery(context.Value(limit), context.Value(before), context.Value(eventType)),
                    context.CancellationToken);
            }
            else
            {
                var team = target.Resolve(context);
                var query = new ResourceAuditQuery
                {
                    Event = context.Value(eventType),
                    Actor = context.Value(actor),
                    Target = context.Value(subject),
                    Since = Time(context.Value(since), "--since"),
                    Until = Time(context.Value(until), "--until"),
                    Before = context.Value(before),
                    Limit = context.Value(limit),
                };
                using var client = context.CreateAuthenticatedClient();
                log = team.Kind == "product"
                    ? await client.GetProductAuditLogAsync(team.Key, query, context.CancellationToken)
                    : await client.GetOrganizationAuditLogAsync(team.Key, query, context.CancellationToken);
            }
            if (context.Json)
            {
                context.WriteJson(log);
                return ExitCodes.Ok;
            }
            var table = new TextTable("ID", "TIME", "EVENT", "ACTOR", "IP", "DETAILS");
            foreach (var e in log.Events)
            {
                table.Add(e.Id.ToString(CultureInfo.InvariantCulture), CliContext.Time(e.OccurredAt), e.Event,
                    e.Actor ?? "-", e.IpAddress ?? "-", e.Details ?? "");
            }
            table.WriteTo(context.Console.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static DateTimeOffset? Time(string? text, string option)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        return DateTimeOffset.TryParse(text.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : throw CliException.Usage($"{option} must be an ISO-8601 date or date and time, e.g. 2025-01-31 or 2025-01-31T12:00:00Z");
    }
}
