using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Bulwark.Client;

namespace Bulwark.Cli.Commands;

/// <summary><c>device list|get|vitals|rename|claim|release|call|get-var</c>.</summary>
internal static class DeviceCommands
{
    public static Command Create(CliApp app)
    {
        var device = new Command("device", "Manage your devices, call their functions and read their variables");
        device.Subcommands.Add(List(app));
        device.Subcommands.Add(Get(app));
        device.Subcommands.Add(Vitals(app));
        device.Subcommands.Add(Rename(app));
        device.Subcommands.Add(Claim(app));
        device.Subcommands.Add(Release(app));
        device.Subcommands.Add(Call(app));
        device.Subcommands.Add(GetVariable(app));
        device.Subcommands.Add(Flash(app));
        return device;
    }

    private static Argument<string> DeviceArgument() => new("device") { Description = "Device ID (24 hex characters) or name" };

    private static Command List(CliApp app)
    {
        var command = new Command("list", "List your devices");
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var devices = await client.ListDevicesAsync(context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(devices);
                return ExitCodes.Ok;
            }
            var table = new TextTable("ID", "NAME", "STATUS", "PLATFORM", "LAST HEARD");
            foreach (var d in devices)
            {
                table.Add(d.Id, d.Name ?? "-", d.Online ? "online" : "offline", Number(d.PlatformId), CliContext.Time(d.LastHeard, "never"));
            }
            table.WriteTo(context.Console.Out);
            context.Note(devices.Count == 1 ? "1 device" : $"{devices.Count} devices");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Get(CliApp app)
    {
        var id = DeviceArgument();
        var command = new Command("get", "Show one device") { id };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var d = await client.GetDeviceAsync(context.Value(id)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(d);
                return ExitCodes.Ok;
            }
            var table = new TextTable("FIELD", "VALUE");
            table.Add("id", d.Id);
            table.Add("name", d.Name ?? "-");
            table.Add("status", d.Online ? "online" : "offline");
            table.Add("platform", Number(d.PlatformId));
            table.Add("product", Number(d.ProductId));
            table.Add("system firmware", d.SystemFirmwareVersion ?? "-");
            table.Add("firmware version", Number(d.FirmwareVersion));
            table.Add("last heard", CliContext.Time(d.LastHeard, "never"));
            table.Add("last handshake", CliContext.Time(d.LastHandshakeAt, "never"));
            table.Add("last ip address", d.LastIpAddress ?? "-");
            table.Add("serial number", d.SerialNumber ?? "-");
            table.Add("functions", d.Functions is { Count: > 0 } f ? string.Join(", ", f) : "-");
            table.Add("variables", d.Variables is { Count: > 0 } v ? string.Join(", ", v.Select(p => $"{p.Key} ({p.Value})")) : "-");
            table.Add("notes", string.IsNullOrEmpty(d.Notes) ? "-" : d.Notes.ReplaceLineEndings(" "));
            table.WriteTo(context.Console.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Vitals(CliApp app)
    {
        var id = DeviceArgument();
        var productOption = new Option<string?>("--product") { Description = "Read it as a member of this product's team (ID or slug)" };
        var command = new Command("vitals", "Show what the cloud last knew of a device: connection, versions, Device Protection") { id, productOption };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var vitals = await client.GetDeviceVitalsAsync(context.Value(id)!, context.Value(productOption), context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(vitals);
                return ExitCodes.Ok;
            }
            var diagnostics = vitals.GetProperty("diagnostics");
            var payload = diagnostics.GetProperty("payload");
            var system = payload.GetProperty("device").GetProperty("system");
            var protection = payload.GetProperty("device_protection");
            var table = new TextTable("FIELD", "VALUE");
            table.Add("id", Text(diagnostics, "deviceID"));
            table.Add("updated", Text(diagnostics, "updated_at", "never"));
            table.Add("status", payload.GetProperty("online").GetBoolean() ? "online" : "offline");
            table.Add("last heard", Text(payload, "last_heard", "never"));
            table.Add("last handshake", Text(payload, "last_handshake_at", "never"));
            table.Add("last ip address", Text(payload, "last_ip_address"));
            table.Add("device os", Text(system, "device_os_version"));
            table.Add("firmware version", Text(system, "firmware_version"));
            var status = Text(protection, "status");
            table.Add("device protection", protection.GetProperty("service_mode_until").ValueKind == JsonValueKind.String
                ? $"{status} (until {Text(protection, "service_mode_until")} or {Text(protection, "service_mode_resets_left")} resets)"
                : status);
            table.WriteTo(context.Console.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>A JSON property as text; <paramref name="none"/> when it is null or absent.</summary>
    private static string Text(JsonElement element, string name, string none = "-") =>
        element.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Null => none,
            _ => value.GetRawText(),
        } : none;

    private static Command Rename(CliApp app)
    {
        var id = DeviceArgument();
        var name = new Argument<string>("name") { Description = "The new name: letters, digits, '_' or '-'" };
        var command = new Command("rename", "Rename a device") { id, name };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var result = await client.RenameDeviceAsync(context.Value(id)!, context.Value(name)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine($"Renamed {result.Id} to {result.Name}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Claim(CliApp app)
    {
        var id = new Argument<string>("device") { Description = "Device ID (24 hex characters)" };
        var command = new Command("claim", "Add a device to your account") { id };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var result = await client.ClaimDeviceAsync(context.Value(id)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine($"Claimed {result.Id}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Release(CliApp app)
    {
        var id = DeviceArgument();
        var command = new Command("release", "Remove a device from your account") { id };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var device = context.Value(id)!;
            var result = await client.ReleaseDeviceAsync(device, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine($"Released {device}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Call(CliApp app)
    {
        var id = DeviceArgument();
        var function = new Argument<string>("function") { Description = "The cloud function to call" };
        var argument = new Argument<string?>("arg") { Description = "The argument passed to the function", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("call", "Call a device's cloud function and print its return value") { id, function, argument };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var result = await client.CallFunctionAsync(context.Value(id)!, context.Value(function)!, context.Value(argument),
                context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine(result.ReturnValue.ToString(CultureInfo.InvariantCulture));
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command GetVariable(CliApp app)
    {
        var id = DeviceArgument();
        var variable = new Argument<string>("variable") { Description = "The cloud variable to read" };
        var command = new Command("get-var", "Read a device's cloud variable and print its value") { id, variable };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var result = await client.GetVariableAsync(context.Value(id)!, context.Value(variable)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine(result.Result.ValueKind == JsonValueKind.String ? result.Result.GetString() ?? "" : result.Result.GetRawText());
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Flash(CliApp app)
    {
        var id = DeviceArgument();
        var file = new Argument<FileInfo>("file") { Description = "The module (.bin) built for the device's platform" };
        var command = new Command("flash", "Flash a binary to one of your online devices over the air (development)") { id, file };
        app.Handle(command, async context =>
        {
            var info = context.Value(file)!;
            if (!info.Exists)
            {
                throw CliException.Usage($"no such file: {info.FullName}");
            }
            using var client = context.CreateAuthenticatedClient();
            var bar = new ProgressBar(context.Console.Error, "Uploading " + info.Name, info.Length);
            FlashResult result;
            await using (var stream = new ProgressStream(info.OpenRead(), bar.Report))
            {
                try
                {
                    result = await client.FlashDeviceAsync(context.Value(id)!, stream, info.Name, context.CancellationToken);
                }
                finally
                {
                    bar.Finish();
                }
            }
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine($"Flashing {result.Id}: {result.Status ?? "Update started"}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Number(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";
}
