using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using Bulwark.Client;

namespace Bulwark.Cli.Commands;

/// <summary><c>keys server|register</c>: the cloud's key blob for device images, and registering a device's public key.</summary>
internal static class KeysCommands
{
    public static Command Create(CliApp app)
    {
        var keys = new Command("keys", "Server and device keys");
        keys.Subcommands.Add(Server(app));
        keys.Subcommands.Add(Register(app));
        return keys;
    }

    private static Command Server(CliApp app)
    {
        var host = new Option<string>("--host") { Description = "The cloud address devices connect to (name or IP), stored in the blob", Required = true };
        var protocol = new Option<string>("--protocol") { Description = "tcp (RSA, 512 bytes) or udp (ECC, 320 bytes)", DefaultValueFactory = _ => "tcp" };
        protocol.AcceptOnlyFromAmong("tcp", "udp");
        var port = new Option<int?>("--port") { Description = "The gateway port, when not the default" };
        var output = new Option<string>("--out", "-o") { Description = "The file to write the blob to", Required = true };
        var command = new Command("server", "Download the server public key blob a device stores") { host, protocol, port, output };
        app.Handle(command, async context =>
        {
            var file = Path.GetFullPath(context.Value(output)!);
            var protocolName = context.Value(protocol) ?? "tcp";
            using var client = context.CreateClient();
            var blob = await client.GetServerKeyBlobAsync(context.Value(host)!, protocolName, context.Value(port), context.CancellationToken);
            await File.WriteAllBytesAsync(file, blob, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new { ok = true, file, bytes = blob.Length, protocol = protocolName, host = context.Value(host) });
            }
            else
            {
                context.WriteLine($"Wrote the {protocolName} server key ({blob.Length} bytes) to {file}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Register(CliApp app)
    {
        var deviceId = new Argument<string>("deviceId") { Description = "Device ID (24 hex characters)" };
        var keyFile = new Argument<string>("public-key-file") { Description = "The device's public key, PEM or DER" };
        var algorithm = new Option<string?>("--algorithm") { Description = "rsa (default) or ecc" };
        algorithm.AcceptOnlyFromAmong("rsa", "ecc");
        var command = new Command("register", "Register a device's public key so it can connect (does not claim it)") { deviceId, keyFile, algorithm };
        app.Handle(command, async context =>
        {
            var path = context.Value(keyFile)!;
            if (!File.Exists(path))
            {
                throw CliException.Usage($"the key file '{path}' does not exist");
            }
            var pem = ReadPublicKey(await File.ReadAllBytesAsync(path, context.CancellationToken));
            using var client = context.CreateAuthenticatedClient();
            var result = await client.RegisterDeviceKeyAsync(context.Value(deviceId)!, pem, context.Value(algorithm), context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(result);
            }
            else
            {
                context.WriteLine($"Registered the {result.Algorithm ?? "device"} key of {result.DeviceId ?? result.Id}.");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>PEM files are sent as they are; a binary (DER) key is wrapped as PEM "PUBLIC KEY".</summary>
    private static string ReadPublicKey(byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            throw CliException.Usage("the key file is empty");
        }
        var text = Encoding.UTF8.GetString(bytes);
        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            return text;
        }
        return new string(PemEncoding.Write("PUBLIC KEY", bytes));
    }
}
