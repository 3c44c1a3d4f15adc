using System.Text.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.EndToEnd.Tests.Infrastructure;
using Bulwark.Protocol.Keys;

namespace Bulwark.EndToEnd.Tests.Cli;

/// <summary><c>bulwark keys|device|subscribe</c> against the real server, with a bulwark-sim <see cref="VirtualDevice"/>
/// connected to its gateway.</summary>
public sealed class DeviceCommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Keys_device_and_subscribe_commands_drive_a_virtual_device()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);
        var folder = Directory.CreateTempSubdirectory("bulwark-keys-").FullName;
        try
        {
            // The server key blob, as a device image would store it.
            var blobFile = Path.Combine(folder, "server-key.der");
            var keys = await cli.RunAsync("keys", "server", "--host", "127.0.0.1", "--out", blobFile);
            Assert.True(keys.ExitCode == 0, keys.ToString());
            var blob = await File.ReadAllBytesAsync(blobFile);
            Assert.Equal(512, blob.Length);
            Assert.True(ServerKeyBlob.TryParse(blob, out var contents));
            Assert.Equal("127.0.0.1", contents.Host);
            var serverKey = ServerPublicKey.FromSpki(contents.PublicKey);

            // Register the device's key and claim it.
            var identity = DeviceIdentity.Generate();
            var id = identity.Id.ToString();
            var keyFile = Path.Combine(folder, "device.pub.pem");
            await File.WriteAllTextAsync(keyFile, identity.GetPublicKeyPem());
            var register = await cli.RunAsync("keys", "register", id, keyFile, "--algorithm", "rsa", "--json");
            Assert.True(register.ExitCode == 0, register.ToString());
            Assert.Equal("rsa", JsonDocument.Parse(register.Stdout).RootElement.GetProperty("algorithm").GetString());
            var claim = await cli.RunAsync("device", "claim", id);
            Assert.True(claim.ExitCode == 0, claim.ToString());
            Assert.Contains(id, claim.Stdout, StringComparison.Ordinal);

            await using var device = new VirtualDevice(identity, serverKey, "127.0.0.1", fixture.Server.GatewayPort,
                new VirtualDeviceOptions { PlatformId = 6, ProductFirmwareVersion = 4, SystemVersion = 6200 });
            device.RegisterFunction("double", arg => int.Parse(arg, System.Globalization.CultureInfo.InvariantCulture) * 2);
            device.RegisterVariable("answer", () => 42);
            device.RegisterVariable("greeting", () => "hello");
            await device.ConnectAsync();

            // list and get show it online.
            var listed = await WaitOnlineAsync(cli, id);
            Assert.Equal(6, listed.GetProperty("platform_id").GetInt32());
            var table = await cli.RunAsync("device", "list");
            Assert.True(table.ExitCode == 0, table.ToString());
            Assert.Contains(id, table.Stdout, StringComparison.Ordinal);
            Assert.Contains("online", table.Stdout, StringComparison.Ordinal);
            var get = await cli.RunAsync("device", "get", id);
            Assert.True(get.ExitCode == 0, get.ToString());
            Assert.Contains("online", get.Stdout, StringComparison.Ordinal);
            Assert.Contains("6.2.0", get.Stdout, StringComparison.Ordinal);
            Assert.Contains("double", get.Stdout, StringComparison.Ordinal);
            var getJson = await cli.RunAsync("device", "get", id, "--json");
            Assert.True(JsonDocument.Parse(getJson.Stdout).RootElement.GetProperty("online").GetBoolean(), getJson.ToString());

            // rename, then address it by name.
            var rename = await cli.RunAsync("device", "rename", id, "bench-unit");
            Assert.True(rename.ExitCode == 0, rename.ToString());
            var byName = await cli.RunAsync("device", "get", "bench-unit", "--json");
            Assert.True(byName.ExitCode == 0, byName.ToString());
            Assert.Equal(id, JsonDocument.Parse(byName.Stdout).RootElement.GetProperty("id").GetString());

            // call and get-var.
            var call = await cli.RunAsync("device", "call", id, "double", "21");
            Assert.True(call.ExitCode == 0, call.ToString());
            Assert.Equal("42", call.Stdout.Trim());
            var callJson = await cli.RunAsync("device", "call", "bench-unit", "double", "5", "--json");
            Assert.Equal(10, JsonDocument.Parse(callJson.Stdout).RootElement.GetProperty("return_value").GetInt32());
            var variable = await cli.RunAsync("device", "get-var", id, "answer");
            Assert.True(variable.ExitCode == 0, variable.ToString());
            Assert.Equal("42", variable.Stdout.Trim());
            var text = await cli.RunAsync("device", "get-var", id, "greeting", "--json");
            Assert.Equal("hello", JsonDocument.Parse(text.Stdout).RootElement.GetProperty("result").GetString());

            // subscribe --count 1 exits after the first matching event; the device publishes until it does.
            var subscribe = cli.RunAsync("subscribe", "sensor/", "--device", id, "--count", "1", "--json");
            using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                while (!subscribe.IsCompleted)
                {
                    await device.PublishAsync("sensor/temp", "19.5", cancellationToken: deadline.Token);
                    await Task.WhenAny(subscribe, Task.Delay(200, deadline.Token));
                }
            }
            var received = await subscribe;
            Assert.True(received.ExitCode == 0, received.ToString());
            var lines = received.Stdout.Trim().Split('\n');
            var e = Assert.Single(lines);
            var json = JsonDocument.Parse(e).RootElement;
            Assert.Equal("sensor/temp", json.GetProperty("name").GetString());
            Assert.Equal("19.5", json.GetProperty("data").GetString());
            Assert.Equal(id, json.GetProperty("coreid").GetString());

            var human = cli.RunAsync("subscribe", "--count", "1");
            while (!human.IsCompleted)
            {
                await device.PublishAsync("other/thing", "x");
                await Task.WhenAny(human, Task.Delay(200));
            }
            var humanResult = await human;
            Assert.True(humanResult.ExitCode == 0, humanResult.ToString());
            Assert.Contains("other/thing", humanResult.Stdout, StringComparison.Ordinal);

            // release: the device is no longer the account's.
            var release = await cli.RunAsync("device", "release", id);
            Assert.True(release.ExitCode == 0, release.ToString());
            var gone = await cli.RunAsync("device", "get", id);
            Assert.Equal(5, gone.ExitCode);
            var list = await cli.RunAsync("device", "list", "--json");
            Assert.Empty(JsonDocument.Parse(list.Stdout).RootElement.EnumerateArray());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task An_unknown_device_exits_5()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);
        const string unknown = "0123456789abcdef01234567";

        foreach (var args in new[]
        {
            new[] { "device", "get", unknown },
            ["device", "release", unknown],
            ["device", "claim", unknown],
            ["device", "call", unknown, "f", "x"],
            ["device", "get-var", unknown, "v"],
            ["subscribe", "--device", unknown, "--count", "1"],
        })
        {
            var result = await cli.RunAsync(args);
            Assert.True(result.ExitCode == 5, string.Join(' ', args) + "\n" + result);
            Assert.StartsWith("error: ", result.Stderr.Split('\n').Last(l => l.Length > 0), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Usage_errors_exit_2()
    {
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        cli.Environment["BULWARK_TOKEN"] = "not-needed-for-usage-errors";

        Assert.Equal(2, (await cli.RunAsync("keys", "server", "--out", "x.der")).ExitCode);
        Assert.Equal(2, (await cli.RunAsync("keys", "server", "--host", "h", "--protocol", "ftp", "--out", "x.der")).ExitCode);
        Assert.Equal(2, (await cli.RunAsync("subscribe", "--count", "0")).ExitCode);
        Assert.Equal(2, (await cli.RunAsync("keys", "register", "0123456789abcdef01234567", "/nonexistent/key.pem")).ExitCode);
    }

    private static async Task<JsonElement> WaitOnlineAsync(CliRunner cli, string id)
    {
        for (var attempt = 0; ; attempt++)
        {
            var list = await cli.RunAsync("device", "list", "--json");
            Assert.True(list.ExitCode == 0, list.ToString());
            var device = Assert.Single(JsonDocument.Parse(list.Stdout).RootElement.EnumerateArray(), d => d.GetProperty("id").GetString() == id);
            if (device.GetProperty("online").GetBoolean())
            {
                return device.Clone();
            }
            Assert.True(attempt < 100, "the device never showed online: " + list);
            await Task.Delay(100);
        }
    }
}
