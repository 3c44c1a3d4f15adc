using System.CommandLine;
using System.Globalization;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli.Commands;

/// <summary><c>product create|list|get|settings</c>. <see cref="Create"/> builds the <c>product</c> command; other
/// groups (product devices, quarantine, firmware, ...) attach their subcommands to what it returns, in
/// <c>BulwarkCli.BuildRootCommand</c>.</summary>
public static class ProductCommands
{
    /// <summary>The <c>product</c> command with its create, list, get and settings subcommands.</summary>
    public static Command Create(CliApp app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var product = new Command("product", "Products: fleets of devices on one platform, owned by you or an organization");
        product.Subcommands.Add(CreateProduct(app));
        product.Subcommands.Add(List(app));
        product.Subcommands.Add(Get(app));
        product.Subcommands.Add(Settings(app));
        return product;
    }

    /// <summary>The <c>&lt;product&gt;</c> argument (ID or slug), for subcommands other groups attach.</summary>
    public static Argument<string> ProductArgument() => new("product") { Description = "Product ID or slug" };

    private static Command CreateProduct(CliApp app)
    {
        var name = new Option<string>("--name") { Description = "The product's name", Required = true };
        var platform = new Option<string>("--platform") { Description = "Platform ID or name, e.g. 13 or boron", Required = true };
        var description = new Option<string?>("--description") { Description = "A description" };
        var slug = new Option<string?>("--slug") { Description = "The URL name (default: made from the name)" };
        var org = new Option<string?>("--org") { Description = "Create it in this organization (ID or slug) instead of your account" };
        var command = new Command("create", "Create a product") { name, platform, description, slug, org };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var platformId = await PlatformIdAsync(context, client, context.Value(platform)!);
            var created = await client.CreateProductAsync(new ProductCreate
            {
                Name = context.Value(name)!,
                PlatformId = platformId,
                Description = context.Value(description),
                Slug = context.Value(slug),
            }, context.Value(org), context.CancellationToken);
            if (!context.Json)
            {
                context.Note($"Created product {created.Id} ({created.Slug}).");
            }
            Write(context, created);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List(CliApp app)
    {
        var org = new Option<string?>("--org") { Description = "Only this organization's products (ID or slug)" };
        var command = new Command("list", "List the products you can see") { org };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var products = context.Value(org) is { Length: > 0 } o
                ? await client.ListOrganizationProductsAsync(o, context.CancellationToken)
                : await client.ListProductsAsync(context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(products);
                return ExitCodes.Ok;
            }
            var table = new TextTable("ID", "SLUG", "NAME", "PLATFORM", "OWNER", "UNRECOGNIZED DEVICES");
            foreach (var p in products)
            {
                table.Add(p.Id.ToString(CultureInfo.InvariantCulture), p.Slug, p.Name, p.PlatformId.ToString(CultureInfo.InvariantCulture),
                    Owner(p), p.Settings.UnrecognizedDevices);
            }
            table.WriteTo(context.Console.Out);
            context.Note(products.Count == 1 ? "1 product" : $"{products.Count} products");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Get(CliApp app)
    {
        var id = ProductArgument();
        var command = new Command("get", "Show one product") { id };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            Write(context, await client.GetProductAsync(context.Value(id)!, context.CancellationToken));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Settings(CliApp app)
    {
        var id = ProductArgument();
        var name = new Option<string?>("--name") { Description = "A new name" };
        var description = new Option<string?>("--description") { Description = "A new description (empty clears it)" };
        var unrecognized = new Option<string?>("--unrecognized-devices")
        {
            Description = "What happens to a device the product does not know when it connects: quarantine (held for approval) or auto-approve",
        };
        unrecognized.AcceptOnlyFromAmong("quarantine", "auto-approve");
        var command = new Command("settings", "Show a product's settings, or change them with the options") { id, name, description, unrecognized };
        app.Handle(command, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var update = new ProductUpdate
            {
                Name = context.Value(name),
                Description = context.Value(description),
                Settings = context.Value(unrecognized) is { } policy ? new ProductSettingsUpdate { UnrecognizedDevices = policy } : null,
            };
            ProductResponse product;
            if (update.Name is null && update.Description is null && update.Settings is null)
            {
                product = await client.GetProductAsync(context.Value(id)!, context.CancellationToken);
            }
            else
            {
                product = await client.UpdateProductAsync(context.Value(id)!, update, context.CancellationToken);
                if (!context.Json)
                {
                    context.Note($"Updated product {product.Id}.");
                }
            }
            if (context.Json)
            {
                context.WriteJson(new { product.Id, product.Name, product.Description, product.Settings });
                return ExitCodes.Ok;
            }
            var table = new TextTable("SETTING", "VALUE");
            table.Add("name", product.Name);
            table.Add("description", string.IsNullOrEmpty(product.Description) ? "-" : product.Description.ReplaceLineEndings(" "));
            table.Add("unrecognized devices", product.Settings.UnrecognizedDevices);
            table.Add("location opt-in", product.Settings.Location.OptIn ? "yes" : "no");
            table.Add("known application opt-in", product.Settings.KnownApplication.OptIn ? "yes" : "no");
            table.WriteTo(context.Console.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>A platform number as given, or looked up by name in <c>GET /v1/platforms</c>.</summary>
    private static async Task<int> PlatformIdAsync(CliContext context, BulwarkApiClient client, string text)
    {
        text = text.Trim();
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return id;
        }
        var platforms = await client.ListPlatformsAsync(context.CancellationToken);
        var match = platforms.FirstOrDefault(p => string.Equals(p.Name, text, StringComparison.OrdinalIgnoreCase))
            ?? platforms.FirstOrDefault(p => string.Equals(p.DisplayName, text, StringComparison.OrdinalIgnoreCase));
        return match?.Id ?? throw CliException.Usage(
            $"unknown platform '{text}'; product platforms are {string.Join(", ", platforms.Where(p => p.ProductEligible).Select(p => $"{p.Name} ({p.Id})"))}");
    }

    private static string Owner(ProductResponse p) => p.Org is { Length: > 0 } org ? "org " + org : p.User ?? "-";

    private static void Write(CliContext context, ProductResponse p)
    {
        if (context.Json)
        {
            context.WriteJson(p);
            return;
        }
        var table = new TextTable("FIELD", "VALUE");
        table.Add("id", p.Id.ToString(CultureInfo.InvariantCulture));
        table.Add("slug", p.Slug);
        table.Add("name", p.Name);
        table.Add("description", string.IsNullOrEmpty(p.Description) ? "-" : p.Description.ReplaceLineEndings(" "));
        table.Add("platform", p.PlatformId.ToString(CultureInfo.InvariantCulture));
        table.Add("hardware", p.Hardware);
        table.Add("owner", Owner(p));
        table.Add("unrecognized devices", p.Settings.UnrecognizedDevices);
        table.Add("created", CliContext.Time(p.CreatedAt));
        table.WriteTo(context.Console.Out);
    }
}
