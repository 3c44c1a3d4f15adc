using System.CommandLine;
using System.Text.Json;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli.Commands;

/// <summary><c>subscribe [prefix] [--device ID] [--count N]</c>: prints the account's events as they arrive.</summary>
internal static class SubscribeCommand
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    public static Command Create(CliApp app)
    {
        var prefix = new Argument<string?>("prefix") { Description = "Only events whose name starts with this", Arity = ArgumentArity.ZeroOrOne };
        var device = new Option<string?>("--device") { Description = "Only events from this device (ID or name)" };
        var count = new Option<int?>("--count") { Description = "Exit after this many events" };
        var command = new Command("subscribe", "Print your devices' events as they arrive (Ctrl+C to stop); --json prints one JSON object a line")
        {
            prefix,
            device,
            count,
        };
        app.Handle(command, async context =>
        {
            var limit = context.Value(count);
            if (limit is <= 0)
            {
                throw CliException.Usage("--count must be a positive number");
            }
            using var client = context.CreateAuthenticatedClient();
            var received = 0;
            var filter = context.Value(prefix);
            context.Note($"Subscribing to {(string.IsNullOrEmpty(filter) ? "all events" : $"events starting with '{filter}'")}"
                + (context.Value(device) is { Length: > 0 } d ? $" from {d}" : "") + "...");
            while (true)
            {
                await foreach (var e in client.StreamEventsAsync(filter, context.Value(device), context.CancellationToken))
                {
                    await WriteAsync(context, e);
                    received++;
                    if (received >= limit)
                    {
                        return ExitCodes.Ok;
                    }
                }
                // The server ended the stream (restart, or this client fell behind): reconnect, as Particle's tools do.
                context.Note("The event stream ended; reconnecting...");
                await Task.Delay(ReconnectDelay, context.CancellationToken);
            }
        });
        return command;
    }

    private static async Task WriteAsync(CliContext context, DeviceEvent e)
    {
        if (context.Json)
        {
            // One compact object a line, so a script can read the stream as it comes.
            context.WriteLine(JsonSerializer.Serialize(e, ApiJson.Options));
        }
        else
        {
            var published = e.PublishedAt is { } at
                ? DateTime.SpecifyKind(at, DateTimeKind.Utc).ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)
                : "-";
            context.WriteLine($"{published}  {e.CoreId ?? "-"}  {e.Name}  {e.Data ?? ""}".TrimEnd());
        }
        await context.Console.Out.FlushAsync(context.CancellationToken);
    }
}
