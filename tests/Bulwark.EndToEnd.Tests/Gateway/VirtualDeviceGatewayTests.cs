using System.Net.Http.Json;
using System.Text.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.Gateway;

/// <summary>The server and bulwark-sim's <see cref="VirtualDevice"/> over real loopback sockets.</summary>
public partial class VirtualDeviceGatewayTests
{
    [Fact]
    public async Task A_virtual_device_connects_publishes_and_answers_through_the_REST_API()
    {
        await using var server = await StartAsync(settings: new Dictionary<string, string?> { ["Bulwark:Gateway:RequestTimeoutSeconds"] = "5" });
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var serverKey = ServerPublicKey.FromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"))).GetProperty("public_key").GetString()!);
        var identity = DeviceIdentity.Generate();
        var id = identity.Id.ToString();
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = identity.GetPublicKeyPem(), algorithm = "rsa" }));
        await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id }));

        using var stream = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/devices/events"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal(":ok", await reader.ReadLineAsync());

        await using var device = new VirtualDevice(identity, serverKey, "127.0.0.1", server.GatewayPort,
            new VirtualDeviceOptions { PlatformId = 6, ProductFirmwareVersion = 4, SystemVersion = 6200 });
        device.RegisterFunction("double", arg => int.Parse(arg, System.Globalization.CultureInfo.InvariantCulture) * 2);
        device.RegisterVariable("answer", () => 42);
        await device.ConnectAsync();

        Assert.Equal("online", (await NextEventAsync(reader, "spark/status")).GetProperty("data").GetString());
        await device.PublishAsync("sensor/temp", "19.0");
        var temp = await NextEventAsync(reader, "sensor/temp");
        Assert.Equal("19.0", temp.GetProperty("data").GetString());
        Assert.Equal(id, temp.GetProperty("coreid").GetString());

        var info = await JsonAsync(await client.GetAsync($"/v1/devices/{id}"));
        Assert.True(info.GetProperty("online").GetBoolean());
        Assert.Equal(6, info.GetProperty("platform_id").GetInt32());
        Assert.Equal("6.2.0", info.GetProperty("system_firmware_version").GetString());
        // The protobuf system Describe (sent before the event, handled in order) is recorded as Describe JSON.
        var modules = info.GetProperty("system_modules").EnumerateArray().ToList();
        Assert.Equal(["b", "s", "u"], modules.Select(m => m.GetProperty("f").GetString()));
        Assert.Equal([3000, 6200, 6], modules.Select(m => m.GetProperty("v").GetInt32()));
        Assert.Equal("1", modules[1].GetProperty("n").GetString());
        Assert.Equal(10 * 1024 * 1024 + 4, modules[1].GetProperty("s").GetInt32());
        Assert.Equal(30, modules[2].GetProperty("vv").GetInt32());
        var dependency = Assert.Single(modules[2].GetProperty("d").EnumerateArray());
        Assert.Equal(("s", "1", 6200), (dependency.GetProperty("f").GetString(), dependency.GetProperty("n").GetString(), dependency.GetProperty("v").GetInt32()));
        Assert.Equal(new string('0', 64), modules[2].GetProperty("u").GetString());
        Assert.False(modules[0].TryGetProperty("security", out _));

        await CallReadAndDisconnectAsync(client, device, reader, id);
    }

    private static async Task<JsonElement> NextEventAsync(StreamReader reader, string name)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        string? current = null;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                current = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && current == name)
            {
                return JsonDocument.Parse(line[6..]).RootElement.Clone();
            }
        }
        throw new EndOfStreamException("stream ended before " + name);
    }
}
