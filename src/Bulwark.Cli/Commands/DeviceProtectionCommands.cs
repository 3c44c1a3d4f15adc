using System.CommandLine;
using Bulwark.Client;
using Bulwark.Protocol.LocalControl;

namespace Bulwark.Cli.Commands;

/// <summary><c>device-protection status|disable|enable</c>: Device Protection on one device, the cloud's half through the API
/// and the device's half through its local control channel (<c>--control HOST:PORT</c>, requests 76 and 77), and
/// <c>product protection enable</c>.</summary>
public static class DeviceProtectionCommands
{
    public static Command Create(CliApp app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var group = new Command("device-protection", "Device Protection on one device: its state, Service Mode on and off");
        group.Subcommands.Add(Status(app));
        group.Subcommands.Add(Disable(app));
        group.Subcommands.Add(Enable(app));
        return group;
    }

    /// <summary>Attaches <c>protection enable</c> to the <c>product</c> command.</summary>
    public static void AttachToProduct(Command product, CliApp app)
    {
        ArgumentNullException.ThrowIfNull(product);
        ArgumentNullException.ThrowIfNull(app);
        var productOption = new Option<string>("--product") { Description = "Product ID or slug", Required = true };
        var enable = new Command("enable", "Turn Device Protection on for a product (owner or administrator; Gen3 and later; cannot be undone)") { productOption };
        app.Handle(enable, async context =>
        {
            using var client = context.CreateAuthenticatedClient();
            var product = await client.EnableDeviceProtectionAsync(context.Value(productOption)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new { product.Id, product.Slug, product.DeviceProtection });
                return ExitCodes.Ok;
            }
            context.WriteLine($"Device Protection: {product.DeviceProtection} on product {product.Id} ({product.Slug})");
            context.Note("Devices running product firmware for Device OS 6.0 or later receive the protected bootloader; this cannot be turned off.");
            return ExitCodes.Ok;
        });
        var protection = new Command("protection", "Device Protection for a product's devices") { enable };
        product.Subcommands.Add(protection);
    }

    private static Option<string> DeviceOption() => new("--device") { Description = "The device ID (24 hex digits)", Required = true };

    private static Option<string?> ControlOption(bool required) => new("--control")
    {
        Description = "The device's local control channel, HOST:PORT (a bulwark-sim device's LocalControlPort)",
        Required = required,
    };

    private static Command Status(CliApp app)
    {
        var device = DeviceOption();
        var control = ControlOption(required: false);
        var command = new Command("status", "Show the device's protection state: from the device (--control), else as the cloud records it") { device, control };
        app.Handle(command, async context =>
        {
            var id = DeviceIdArgument(context.Value(device)!);
            if (context.Value(control) is not { Length: > 0 } address)
            {
                using var client = context.CreateAuthenticatedClient();
                var status = await client.GetDeviceProtectionStatusAsync(id, context.CancellationToken) ?? "disabled";
                if (context.Json)
                {
                    context.WriteJson(new { device = id, source = "cloud", status });
                }
                else
                {
                    context.WriteLine(CloudText(status));
                }
                return ExitCodes.Ok;
            }
            using var channel = await OpenAsync(context, address, id);
            var (isProtected, overridden) = await StateAsync(channel, context);
            if (context.Json)
            {
                context.WriteJson(new { device = id, source = "device", @protected = isProtected, service_mode = isProtected && overridden, status = StateText(isProtected, overridden) });
            }
            else
            {
                context.WriteLine(StateText(isProtected, overridden));
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Disable(CliApp app)
    {
        var device = DeviceOption();
        var control = ControlOption(required: true);
        var command = new Command("disable",
            "Put a protected device in Service Mode (24 hours or 20 resets): the cloud and the device exchange signed nonces over its local control channel")
        {
            device, control,
        };
        app.Handle(command, async context =>
        {
            var id = DeviceIdArgument(context.Value(device)!);
            using var client = context.CreateAuthenticatedClient();
            using var channel = await OpenAsync(context, context.Value(control)!, id);
            var (isProtected, overridden) = await StateAsync(channel, context);
            if (!isProtected)
            {
                throw new CliException(ExitCodes.Error, $"device {id} is not protected; there is no Service Mode to enter");
            }
            if (overridden)
            {
                context.Note($"Device {id} is already in Service Mode.");
                context.WriteLine(StateText(isProtected, overridden));
                return ExitCodes.Ok;
            }
            var serverNonce = await client.PrepareServiceModeAsync(id, context.CancellationToken);
            var prepared = await channel.SetProtectedStateAsync(SetProtectedStateRequest.Prepare(serverNonce), context.CancellationToken);
            if (prepared is not { DeviceNonce: { } deviceNonce, DeviceSignature: { } signature, DevicePublicKeyFingerprint: { } fingerprint })
            {
                throw new CliException(ExitCodes.DeviceRefused, $"device {id} answered PREPARE without a signed nonce (not protected, or already in Service Mode)");
            }
            var granted = await client.ConfirmServiceModeAsync(id, serverNonce, deviceNonce, signature, fingerprint, context.CancellationToken);
            await channel.SetProtectedStateAsync(SetProtectedStateRequest.Confirm(granted.ServerSignature, granted.ServerPublicKeyFingerprint), context.CancellationToken);
            var after = await StateAsync(channel, context);
            if (!after.Overridden)
            {
                throw new CliException(ExitCodes.DeviceRefused, $"device {id} accepted CONFIRM but does not report Service Mode");
            }
            if (context.Json)
            {
                context.WriteJson(new { device = id, status = StateText(after.Protected, after.Overridden), service_mode = true });
            }
            else
            {
                context.WriteLine(StateText(after.Protected, after.Overridden));
                context.Note($"Device {id} is in Service Mode for 24 hours or 20 resets, or until `bulwark device-protection enable`.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Enable(CliApp app)
    {
        var device = DeviceOption();
        var control = ControlOption(required: false);
        var command = new Command("enable", "End Service Mode: the device returns to protection (RESET over --control) and the cloud records it") { device, control };
        app.Handle(command, async context =>
        {
            var id = DeviceIdArgument(context.Value(device)!);
            using var client = context.CreateAuthenticatedClient();
            (bool Protected, bool Overridden)? state = null;
            if (context.Value(control) is { Length: > 0 } address)
            {
                using var channel = await OpenAsync(context, address, id);
                await channel.SetProtectedStateAsync(SetProtectedStateRequest.Reset(), context.CancellationToken);
                state = await StateAsync(channel, context);
            }
            else
            {
                context.Note("No --control: only the cloud's record changes; the device stays in Service Mode until it expires or is reset locally.");
            }
            var cloud = await client.ResetServiceModeAsync(id, context.CancellationToken) ?? "disabled";
            if (context.Json)
            {
                context.WriteJson(new
                {
                    device = id,
                    status = state is { } s ? StateText(s.Protected, s.Overridden) : null,
                    cloud_status = cloud,
                });
                return ExitCodes.Ok;
            }
            context.WriteLine(state is { } st ? StateText(st.Protected, st.Overridden) : CloudText(cloud));
            if (state is { Protected: false })
            {
                context.Note($"Device {id} is not protected (its bootloader is not a protected one); there was nothing to re-enable.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string DeviceIdArgument(string text)
    {
        var id = text.Trim().ToLowerInvariant();
        if (id.Length != 24 || !id.All(Uri.IsHexDigit))
        {
            throw CliException.Usage($"--device must be a 24-hex-digit device ID, not '{text}'");
        }
        return id;
    }

    /// <summary>Connects and checks the device on the channel is the one named (DEVICE_ID is allowed even when protected).</summary>
    private static async Task<LocalControlClient> OpenAsync(CliContext context, string address, string id)
    {
        var channel = await LocalControlClient.ConnectAsync(address, context.CancellationToken);
        try
        {
            var actual = await channel.DeviceIdAsync(context.CancellationToken);
            if (!string.Equals(actual, id, StringComparison.Ordinal))
            {
                throw new CliException(ExitCodes.Usage, $"the device at {address} is {actual}, not {id}");
            }
            return channel;
        }
        catch
        {
            channel.Dispose();
            throw;
        }
    }

    private static Task<(bool Protected, bool Overridden)> StateAsync(LocalControlClient channel, CliContext context) =>
        channel.ProtectedStateAsync(context.CancellationToken);

    private static string StateText(bool isProtected, bool overridden) =>
        !isProtected ? "Open" : overridden ? "Protected (Service Mode)" : "Protected";

    private static string CloudText(string status) => status switch
    {
        "active" => "Protected",
        "service_mode" => "Protected (Service Mode)",
        "pending" => "Open (protection pending)",
        _ => "Open",
    } + " (as the cloud records it)";
}
