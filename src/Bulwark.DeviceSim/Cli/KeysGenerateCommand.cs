using System.CommandLine;
using Bulwark.DeviceSim.Fleet;

namespace Bulwark.DeviceSim.Cli;

/// <summary><c>bulwark-sim keys generate --out DIR [--count N]</c>: device keys (RSA for TCP, EC for UDP) plus manifests for bulk registration.</summary>
internal static class KeysGenerateCommand
{
    public static Command Create(SimConsole console)
    {
        var output = new Option<string>("--out") { Description = "Folder for the keys and manifests (created if missing; existing keys are kept)", Required = true };
        var count = new Option<int>("--count") { Description = "How many devices to generate", DefaultValueFactory = _ => 1 };
        var command = new Command("generate", "Generate device IDs with RSA-1024 (TCP) and EC P-256 (UDP) keys, and devices.json and devices.csv manifests (device ID, public key PEM, algorithm rsa or ecc) for bulk registration; existing devices without an EC key get one")
        {
            output,
            count,
        };
        command.SetAction((parse, cancellationToken) => SimCli.Guard(console, async () =>
        {
            string directory = parse.GetValue(output)!;
            int wanted = parse.GetValue(count);
            if (wanted < 1)
            {
                throw new SimCliException(SimExitCodes.Usage, "--count must be at least 1");
            }

            var progress = new Progress<int>(done => console.Out.WriteLine($"generated {done}/{wanted}"));
            IReadOnlyList<Devices.DeviceIdentity> generated = await DeviceKeyStore.GenerateAsync(directory, wanted, wanted >= 500 ? progress : null, cancellationToken);
            int total = DeviceKeyStore.Load(directory).Count;
            console.Out.WriteLine($"Generated {generated.Count} device keys in {directory} ({total} in total).");
            console.Out.WriteLine($"Register them: {Path.Combine(directory, DeviceKeyStore.JsonManifestName)} is a POST /v1/provisioning body with an \"rsa\" and an \"ecc\" row per device (at most 5000 rows per request); {Path.Combine(directory, DeviceKeyStore.CsvManifestName)} lists the same keys.");
            if (generated.Count <= 5)
            {
                foreach (Devices.DeviceIdentity identity in generated)
                {
                    console.Out.WriteLine(identity.Id.ToString());
                }
            }

            return SimExitCodes.Ok;
        }));
        return command;
    }
}
