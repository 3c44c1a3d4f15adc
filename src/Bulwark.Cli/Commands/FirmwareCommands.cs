using System.CommandLine;
using System.Globalization;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli.Commands;

/// <summary><c>firmware upload|list|release|download|delete</c> and <c>group list|create|update|delete</c>, all on one
/// product (<c>--product P</c>).</summary>
internal static class FirmwareCommands
{
    public static Command CreateFirmware(CliApp app)
    {
        var firmware = new Command("firmware", "A product's firmware: upload, list, release to groups or the whole fleet, download, delete");
        firmware.Subcommands.Add(Upload(app));
        firmware.Subcommands.Add(List(app));
        firmware.Subcommands.Add(Release(app));
        firmware.Subcommands.Add(Download(app));
        firmware.Subcommands.Add(Delete(app));
        return firmware;
    }

    public static Command CreateGroup(CliApp app)
    {
        var group = new Command("group", "A product's device groups, the targets of firmware releases");
        group.Subcommands.Add(GroupList(app));
        group.Subcommands.Add(GroupCreate(app));
        group.Subcommands.Add(GroupUpdate(app));
        group.Subcommands.Add(GroupDelete(app));
        return group;
    }

    private static Option<string> ProductOption() => new("--product", "-p") { Description = "The product (ID or slug)", Required = true };

    private static Argument<int> VersionArgument() => new("version") { Description = "The firmware version (1 to 65535)" };

    private static Command Upload(CliApp app)
    {
        var product = ProductOption();
        var file = new Argument<FileInfo>("file") { Description = "The user-part module (.bin) built for the product" };
        var version = new Option<int>("--version", "-v") { Description = "The version compiled into the binary (PRODUCT_VERSION)", Required = true };
        var title = new Option<string?>("--title", "-t") { Description = "A title (default: v<version>)" };
        var description = new Option<string?>("--description", "-d") { Description = "A description" };
        var command = new Command("upload", "Upload a firmware binary; the server checks platform, product ID and version against the binary")
        {
            product, file, version, title, description,
        };
        app.Handle(command, async context =>
        {
            var info = context.Value(file)!;
            var v = CheckVersion(context.Value(version));
            if (!info.Exists)
            {
                throw CliException.Usage($"no such file: {info.FullName}");
            }
            using var client = context.CreateAuthenticatedClient();
            var bar = new ProgressBar(context.Console.Error, "Uploading " + info.Name, info.Length);
            FirmwareResponse uploaded;
            await using (var stream = new ProgressStream(info.OpenRead(), bar.Report))
            {
                try
                {
                    uploaded = await client.UploadProductFirmwareAsync(context.Value(product)!, stream, info.Name, v,
                        context.Value(title) is { Length: > 0 } t ? t : "v" + Number(v), context.Value(description), context.CancellationToken);
                }
                finally
                {
                    bar.Finish();
                }
            }
            if (context.Json)
            {
                context.WriteJson(uploaded);
            }
            else
            {
                context.WriteLine($"Uploaded firmware version {Number(uploaded.Version)} ({Number(uploaded.Size)} bytes, sha256 {uploaded.Sha256}).");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var product = ProductOption();
        var command = new Command("list", "List the product's firmware by version: where it is released and how many devices run it") { product };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var firmware = await client.ListProductFirmwareAsync(context.Value(product)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(firmware);
                return ExitCodes.Ok;
            }
            var table = new TextTable("VERSION", "TITLE", "SIZE", "DEFAULT", "GROUPS", "DEVICES", "RELEASED", "UPLOADED");
            foreach (var f in firmware)
            {
                table.Add(Number(f.Version), f.Title, Number(f.Size), f.ProductDefault ? "yes" : "-", f.Groups.Count > 0 ? string.Join(",", f.Groups) : "-",
                    Number(f.DeviceCount), f.Released ? "yes" : "no", CliContext.Time(f.UploadedOn));
            }
            table.WriteTo(context.Console.Out);
            context.Note(firmware.Count == 1 ? "1 firmware version" : $"{firmware.Count} firmware versions");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Release(CliApp app)
    {
        var product = ProductOption();
        var version = VersionArgument();
        var groups = new Option<string[]>("--group", "-g")
        {
            Description = "Release to this group (repeat, or comma-separated); the list replaces the groups the version is released to",
            AllowMultipleArgumentsPerToken = true,
        };
        var productDefault = new Option<bool>("--product-default") { Description = "Make it the product default: every device not in a released group gets it" };
        var notDefault = new Option<bool>("--not-default") { Description = "Stop it being the product default" };
        var intelligent = new Option<bool>("--intelligent") { Description = "Send it to online devices now instead of at their next connection" };
        var watch = new Option<bool>("--watch", "-w") { Description = "Wait and show the rollout until every targeted device runs the version" };
        var timeout = new Option<int>("--timeout") { Description = "How long --watch waits, in seconds (default 600)", DefaultValueFactory = _ => 600 };
        var command = new Command("release", "Release a version to groups and/or as the product default, and optionally watch it roll out")
        {
            product, version, groups, productDefault, notDefault, intelligent, watch, timeout,
        };
        app.Handle(command, async context =>
        {
            var v = CheckVersion(context.Value(version));
            if (context.Value(productDefault) && context.Value(notDefault))
            {
                throw CliException.Usage("give --product-default or --not-default, not both");
            }
            var groupNames = context.Parse.GetResult(groups) is null ? null
                : (context.Value(groups) ?? []).SelectMany(g => g.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            var release = new FirmwareRelease
            {
                Version = v,
                ProductDefault = context.Value(productDefault) ? true : context.Value(notDefault) ? false : null,
                Groups = groupNames,
                Intelligent = context.Value(intelligent) ? true : null,
            };
            if (release.ProductDefault is null && release.Groups is null)
            {
                throw CliException.Usage("say where to release: --group G, --product-default (or --not-default)");
            }
            var p = context.Value(product)!;
            using var client = context.CreateAuthenticatedClient();
            var impact = await client.GetReleaseImpactAsync(p, release, context.CancellationToken);
            var released = await client.ReleaseProductFirmwareAsync(p, release, context.CancellationToken);
            if (!context.Json)
            {
                var where = new List<string>();
                if (released.ProductDefault)
                {
                    where.Add("the product default");
                }
                if (released.Groups.Count > 0)
                {
                    where.Add((released.Groups.Count == 1 ? "group " : "groups ") + string.Join(", ", released.Groups));
                }
                context.WriteLine($"Released firmware version {Number(v)} to {(where.Count > 0 ? string.Join(" and ", where) : "no one")}; "
                    + $"{Number(impact.Total)} device{(impact.Total == 1 ? "" : "s")} to update{(released.Intelligent ? " now" : " at their next connection")}.");
            }
            if (context.Value(watch))
            {
                var finished = await WatchAsync(context, client, p, release, impact.Total, TimeSpan.FromSeconds(Math.Max(1, context.Value(timeout))));
                if (!finished)
                {
                    throw new CliException($"the rollout of version {Number(v)} did not finish in {Number(context.Value(timeout))} s; "
                        + "offline devices update at their next connection");
                }
            }
            if (context.Json)
            {
                context.WriteJson(await client.GetProductFirmwareAsync(p, v, context.CancellationToken));
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Polls the impact of the same release: the devices it would still move are the ones that do not run the
    /// version yet. Done when none is left; false at the timeout.</summary>
    private static async Task<bool> WatchAsync(CliContext context, BulwarkApiClient client, string product, FirmwareRelease release, int targeted, TimeSpan timeout)
    {
        var bar = new ProgressBar(context.Console.Error, $"Rolling out v{Number(release.Version)}", targeted, "devices");
        var deadline = DateTime.UtcNow + timeout;
        var poll = TimeSpan.FromMilliseconds(500);
        try
        {
            while (true)
            {
                var remaining = (await client.GetReleaseImpactAsync(product, release, context.CancellationToken)).Total;
                bar.Report(Math.Max(0, targeted - remaining));
                if (remaining == 0)
                {
                    bar.Finish("done");
                    return true;
                }
                if (DateTime.UtcNow >= deadline)
                {
                    bar.Finish($"{Number(remaining)} still waiting");
                    return false;
                }
                await Task.Delay(poll, context.CancellationToken);
                poll = TimeSpan.FromMilliseconds(Math.Min(poll.TotalMilliseconds * 1.5, 3000));
            }
        }
        finally
        {
            bar.Finish();
        }
    }

    private static Command Download(CliApp app)
    {
        var product = ProductOption();
        var version = VersionArgument();
        var output = new Option<FileInfo?>("--out", "-o") { Description = "Write it here (default: firmware-v<version>.bin in the current folder)" };
        var command = new Command("download", "Download a firmware binary") { product, version, output };
        app.Handle(command, async context =>
        {
            var v = CheckVersion(context.Value(version));
            var target = context.Value(output)?.FullName ?? Path.GetFullPath($"firmware-v{Number(v)}.bin");
            using var client = context.CreateAuthenticatedClient();
            var path = Path.GetFullPath(target);
            var temporary = path + ".part";
            try
            {
                await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    await client.DownloadProductFirmwareAsync(context.Value(product)!, v, file, context.CancellationToken);
                }
                File.Move(temporary, path, overwrite: true);
            }
            finally
            {
                File.Delete(temporary);
            }
            var size = new FileInfo(path).Length;
            if (context.Json)
            {
                context.WriteJson(new { version = v, path, size });
            }
            else
            {
                context.WriteLine($"Saved firmware version {Number(v)} to {path} ({size.ToString(CultureInfo.InvariantCulture)} bytes).");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Delete(CliApp app)
    {
        var product = ProductOption();
        var version = VersionArgument();
        var command = new Command("delete", "Delete a firmware version that has never been released") { product, version };
        app.Handle(command, async context =>
        {
            var v = CheckVersion(context.Value(version));
            using var client = context.CreateAuthenticatedClient();
            await client.DeleteProductFirmwareAsync(context.Value(product)!, v, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new { ok = true, version = v });
            }
            else
            {
                context.WriteLine($"Deleted firmware version {Number(v)}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command GroupList(CliApp app)
    {
        var product = ProductOption();
        var name = new Option<string?>("--name") { Description = "Only groups whose name contains this" };
        var command = new Command("list", "List the product's device groups, their release and member count") { product, name };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var groups = await client.ListDeviceGroupsAsync(context.Value(product)!, context.Value(name), context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(groups);
                return ExitCodes.Ok;
            }
            var table = new TextTable("NAME", "FIRMWARE", "DEVICES", "COLOR", "DESCRIPTION");
            foreach (var g in groups)
            {
                table.Add(g.Name, g.FwVersion is { } fw ? Number(fw) : "-", Number(g.DeviceCount), g.Color ?? "-",
                    string.IsNullOrEmpty(g.Description) ? "-" : g.Description.ReplaceLineEndings(" "));
            }
            table.WriteTo(context.Console.Out);
            context.Note(groups.Count == 1 ? "1 group" : $"{groups.Count} groups");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command GroupCreate(CliApp app)
    {
        var product = ProductOption();
        var name = new Argument<string>("name") { Description = "Lowercase letters, digits, '-' or '_'" };
        var description = new Option<string?>("--description", "-d") { Description = "A description" };
        var color = new Option<string?>("--color") { Description = "#rrggbb" };
        var command = new Command("create", "Create a device group") { product, name, description, color };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var group = await client.CreateDeviceGroupAsync(context.Value(product)!, new DeviceGroupChange
            {
                Name = context.Value(name),
                Description = context.Value(description),
                Color = context.Value(color),
            }, context.CancellationToken);
            WriteGroup(context, group, "Created");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command GroupUpdate(CliApp app)
    {
        var product = ProductOption();
        var name = new Argument<string>("name") { Description = "The group's current name" };
        var rename = new Option<string?>("--name") { Description = "A new name" };
        var description = new Option<string?>("--description", "-d") { Description = "A new description" };
        var color = new Option<string?>("--color") { Description = "A new color, #rrggbb" };
        var command = new Command("update", "Rename a device group or change its description or color") { product, name, rename, description, color };
        app.Handle(command, async context =>
        {
            var change = new DeviceGroupChange { Name = context.Value(rename), Description = context.Value(description), Color = context.Value(color) };
            if (change.Name is null && change.Description is null && change.Color is null)
            {
                throw CliException.Usage("nothing to change: give --name, --description or --color");
            }
            using var client = context.CreateAuthenticatedClient();
            var group = await client.UpdateDeviceGroupAsync(context.Value(product)!, context.Value(name)!, change, context.CancellationToken);
            WriteGroup(context, group, "Updated");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command GroupDelete(CliApp app)
    {
        var product = ProductOption();
        var name = new Argument<string>("name") { Description = "The group" };
        var command = new Command("delete", "Delete a device group; its members fall back to the product default") { product, name };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            await client.DeleteDeviceGroupAsync(context.Value(product)!, context.Value(name)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new { ok = true, name = context.Value(name) });
            }
            else
            {
                context.WriteLine($"Deleted group {context.Value(name)}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void WriteGroup(CliContext context, DeviceGroupResponse group, string verb)
    {
        if (context.Json)
        {
            context.WriteJson(group);
        }
        else
        {
            context.WriteLine($"{verb} group {group.Name}.");
        }
    }

    private static int CheckVersion(int version) =>
        version is >= 1 and <= 65535 ? version : throw CliException.Usage($"the version must be 1 to 65535, not {Number(version)}");

    internal static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
