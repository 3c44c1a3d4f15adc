using System.Net.Http.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.EndToEnd.Tests.Infrastructure;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.Gateway;

/// <summary>The same paths as the TCP tests, with bulwark-sim speaking Gen3 UDP/DTLS to the server's UDP listener.</summary>
public partial class VirtualDeviceGatewayTests
{
    private static readonly Dictionary<string, string?> UdpSettings = new()
    {
        ["Bulwark:Gateway:UdpEnabled"] = "true",
        ["Bulwark:Gateway:UdpPort"] = "0",
        ["Bulwark:Gateway:RequestTimeoutSeconds"] = "5",
    };

    [Fact]
    public async Task A_gen3_virtual_device_handshakes_over_DTLS_says_hello_publishes_and_answers_through_the_REST_API()
    {
        await using var server = await StartAsync(settings: UdpSettings);
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var (identity, options) = await ClaimNewGen3DeviceAsync(client, new VirtualDeviceOptions { PlatformId = 12, ProductFirmwareVersion = 4 });
        var id = identity.Id.ToString();

        using var stream = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/devices/events"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal(":ok", await reader.ReadLineAsync());

        await using var device = new VirtualDevice(identity, serverKey: null, "127.0.0.1", server.UdpGatewayPort, options);
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
        Assert.Equal(12, info.GetProperty("platform_id").GetInt32());

        await CallReadAndDisconnectAsync(client, device, reader, id);
    }

    [Fact]
    public async Task A_gen3_device_resumes_its_DTLS_session_from_a_new_port_with_only_a_ping_and_is_online_and_callable_again()
    {
        await using var server = await StartAsync(settings: UdpSettings);
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var (identity, options) = await ClaimNewGen3DeviceAsync(client, new VirtualDeviceOptions { PlatformId = 12 });
        var id = identity.Id.ToString();
        var udp = server.UdpGateway;

        using var stream = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/devices/events"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal(":ok", await reader.ReadLineAsync());

        await using var device = new VirtualDevice(identity, serverKey: null, "127.0.0.1", server.UdpGatewayPort, options);
        device.RegisterFunction("double", arg => int.Parse(arg, System.Globalization.CultureInfo.InvariantCulture) * 2);
        await device.ConnectAsync();
        Assert.Equal("online", (await NextEventAsync(reader, "spark/status")).GetProperty("data").GetString());
        int firstPort = device.LocalEndPoint!.Port;
        await device.DisconnectAsync();
        Assert.Equal("offline", (await NextEventAsync(reader, "spark/status")).GetProperty("data").GetString());
        byte[] cid = device.SavedSession!.Dtls.ConnectionId;

        await device.ConnectAsync();
        var resumed = await device.WaitForAsync<DeviceConnected>(c => c.SessionResumed);

        Assert.True(resumed.HelloSkipped);
        Assert.NotEqual(firstPort, device.LocalEndPoint!.Port);
        Assert.Equal("online", (await NextEventAsync(reader, "spark/status")).GetProperty("data").GetString());
        Assert.True((await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("online").GetBoolean());
        Assert.Equal(device.LocalEndPoint.Port, udp.FindSession(cid)!.RemoteEndPoint.Port);
        var call = await client.PostAsJsonAsync($"/v1/devices/{id}/double", new { arg = "5" });
        await EnsureSuccessAsync(call);
        Assert.Equal(10, (await JsonAsync(call)).GetProperty("return_value").GetInt32());
    }

    /// <summary>What both transports must carry through the REST API: function <c>double</c> (21 → 42), variable
    /// <c>answer</c> (42), then Goodbye and <c>spark/status</c> offline.</summary>
    private static async Task CallReadAndDisconnectAsync(HttpClient client, VirtualDevice device, StreamReader reader, string id)
    {
        var call = await client.PostAsJsonAsync($"/v1/devices/{id}/double", new { arg = "21" });
        await EnsureSuccessAsync(call);
        Assert.Equal(42, (await JsonAsync(call)).GetProperty("return_value").GetInt32());
        var variable = await client.GetAsync($"/v1/devices/{id}/answer");
        await EnsureSuccessAsync(variable);
        Assert.Equal(42, (await JsonAsync(variable)).GetProperty("result").GetInt32());

        await device.DisconnectAsync();
        Assert.Equal("offline", (await NextEventAsync(reader, "spark/status")).GetProperty("data").GetString());
        Assert.False((await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("online").GetBoolean());
    }

    /// <summary>A claimed device with only an EC key registered (as a Gen3 device has), and options that point it at the
    /// server's EC key from <c>GET /v1/keys/server?protocol=udp</c>.</summary>
    private static async Task<(DeviceIdentity Identity, VirtualDeviceOptions Options)> ClaimNewGen3DeviceAsync(HttpClient client, VirtualDeviceOptions options)
    {
        var identity = DeviceIdentity.Generate();
        await Gen3Devices.ProvisionEcKeyAsync(client, identity);
        await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id = identity.Id.ToString() }));
        return (identity, options.OverUdp(await Gen3Devices.ServerEcKeyAsync(client)));
    }
}
