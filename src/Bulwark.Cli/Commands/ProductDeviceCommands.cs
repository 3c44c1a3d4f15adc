using System.CommandLine;
using System.Text.Json;
using Bulwark.Client;

namespace Bulwark.Cli.Commands;

/// <summary><c>product device add|import|remove|list</c>, <c>product quarantine list|approve|deny</c> and
/// <c>product denied list</c>, attached to the <c>product</c> command.</summary>
public static class ProductDeviceCommands
{
    public static void Attach(Command product, CliApp app)
    {
        ArgumentNullException.ThrowIfNull(product);
        ArgumentNullException.ThrowIfNull(app);
        var device = new Command("device", "A product's devices: add, import, remove, list");
        device.Subcommands.Add(Add(app));
        device.Subcommands.Add(Import(app));
        device.Subcommands.Add(Remove(app, "remove", "Remove a device from the product (if it comes back with product firmware it is denied)", deny: false));
        device.Subcommands.Add(List(app, "list", "List the product's devices (members and quarantined)", null));
        product.Subcommands.Add(device);

        var quarantine = new Command("quarantine", "Devices that came online with the product's ID without being added");
        quarantine.Subcommands.Add(List(app, "list", "List the quarantined devices", "quarantined"));
        quarantine.Subcommands.Add(Add(app, "approve", "Approve devices: add them to the product with full privileges"));
        quarantine.Subcommands.Add(Remove(app, "deny", "Deny a device: it keeps no product privileges and moves to the denied list", deny: true));
        product.Subcommands.Add(quarantine);

        var denied = new Command("denied", "Devices denied (or removed and back with product firmware); approve them with `product quarantine approve`");
        denied.Subcommands.Add(List(app, "list", "List the denied devices", "denied"));
        product.Subcommands.Add(denied);
    }

    private static Command Add(CliApp app, string name = "add", string description = "Add devices to the product by ID or serial number")
    {
        var productArgument = ProductCommands.ProductArgument();
        var ids = new Argument<string[]>("device") { Description = "Device IDs or serial numbers", Arity = ArgumentArity.OneOrMore };
        var command = new Command(name, description) { productArgument, ids };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var result = await client.AddProductDevicesAsync(context.Value(productArgument)!, context.Value(ids)!, context.CancellationToken);
            return Report(context, result);
        });
        return command;
    }

    private static Command Import(CliApp app)
    {
        var productArgument = ProductCommands.ProductArgument();
        var file = new Argument<FileInfo>("file") { Description = "A text file with one device ID or serial number a line" };
        var command = new Command("import", "Import devices from a file; a malformed file is refused whole with a report of its bad lines")
            { productArgument, file };
        app.Handle(command, async context =>
        {
            var path = context.Value(file)!;
            if (!path.Exists)
            {
                throw CliException.Usage($"{path.FullName} does not exist");
            }
            using var client = context.CreateAuthenticatedClient();
            var result = await client.ImportProductDevicesAsync(context.Value(productArgument)!, await File.ReadAllBytesAsync(path.FullName, context.CancellationToken),
                context.CancellationToken);
            return Report(context, result);
        });
        return command;
    }

    private static Command Remove(CliApp app, string name, string description, bool deny)
    {
        var productArgument = ProductCommands.ProductArgument();
        var id = new Argument<string>("device") { Description = "Device ID" };
        var command = new Command(name, description) { productArgument, id };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            await client.RemoveProductDeviceAsync(context.Value(productArgument)!, context.Value(id)!, deny, context.CancellationToken);
            context.Note(deny ? $"Denied {context.Value(id)}." : $"Removed {context.Value(id)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List(CliApp app, string name, string description, string? filter)
    {
        var productArgument = ProductCommands.ProductArgument();
        var page = new Option<int?>("--page") { Description = "Page (from 1)" };
        var perPage = new Option<int?>("--per-page") { Description = "Devices a page (default 25)" };
        var deviceName = new Option<string?>("--name") { Description = "Only names containing this" };
        var command = new Command(name, description) { productArgument, page, perPage, deviceName };
        app.Handle(command, async context =>
        {
            var query = new Dictionary<string, string>();
            if (filter is not null)
            {
                query[filter] = "true";
            }
            if (context.Value(page) is { } p)
            {
                query["page"] = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            if (context.Value(perPage) is { } n)
            {
                query["perPage"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            if (context.Value(deviceName) is { Length: > 0 } dn)
            {
                query["deviceName"] = dn;
            }
            using var client = context.CreateAuthenticatedClient();
            var result = await client.ListProductDevicesAsync(context.Value(productArgument)!, query, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
                return ExitCodes.Ok;
            }
            var table = new TextTable("ID", "NAME", "OWNER", "ONLINE", "PRIVILEGES", "STATE");
            foreach (var d in result.GetProperty("devices").EnumerateArray())
            {
                var state = d.GetProperty("quarantined").GetBoolean() ? "quarantined" : d.GetProperty("denied").GetBoolean() ? "denied"
                    : d.TryGetProperty("admission", out var a) ? a.GetProperty("state").GetString()! : "member";
                table.Add(d.GetProperty("id").GetString()!, Text(d, "name"), Text(d, "owner"), d.GetProperty("online").GetBoolean() ? "yes" : "no",
                    Text(d, "product_privileges"), state);
            }
            table.WriteTo(Console.Out);
            var meta = result.GetProperty("meta");
            context.Note($"{meta.GetProperty("total").GetInt32()} device(s), page {meta.GetProperty("page").GetInt32()} of {Math.Max(1, meta.GetProperty("total_pages").GetInt32())}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static int Report(CliContext context, JsonElement result)
    {
        if (context.Json)
        {
            context.WriteJson(result);
            return ExitCodes.Ok;
        }
        context.WriteLine($"Added {result.GetProperty("updated").GetInt32()} device(s).");
        foreach (var (key, label) in new[] { ("existingDeviceIds", "Already in the product"), ("invalidDeviceIds", "Skipped (invalid, another product or platform)"),
                     ("nonmemberDeviceIds", "Skipped (unknown serial number)"), ("protectedDeviceIds", "Skipped (protected)") })
        {
            var ids = result.GetProperty(key).EnumerateArray().Select(e => e.GetString()).ToList();
            if (ids.Count > 0)
            {
                context.WriteLine($"{label}: {string.Join(' ', ids.Take(50))}{(ids.Count > 50 ? $" … ({ids.Count})" : "")}");
            }
        }
        return ExitCodes.Ok;
    }

    private static string Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "-";
}
