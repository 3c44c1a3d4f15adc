using System.Net.Http.Json;
using System.Text.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.Gateway;

/// <summary>What reaches a device's subscriptions (Features/Events/DeviceEventDelivery), with bulwark-sim devices, which
/// subscribe to <c>spark</c> and <c>particle</c> by themselves as Device OS does.</summary>
public class DeviceEventDeliveryTests
{
    [Fact]
    public async Task A_device_subscribed_to_spark_does_not_hear_a_siblings_status_or_system_events_but_hears_the_users_events()
    {
        await using var server = await StartAsync();
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var serverKey = ServerPublicKey.FromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"))).GetProperty("public_key").GetString()!);
        var listenerIdentity = await ClaimNewDeviceAsync(client);
        var siblingIdentity = await ClaimNewDeviceAsync(client);
        var sibling = siblingIdentity.Id.ToString();

        using var stream = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/devices/events"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal(":ok", await reader.ReadLineAsync());

        await using var listener = new VirtualDevice(listenerIdentity, serverKey, "127.0.0.1", server.GatewayPort, new VirtualDeviceOptions { PlatformId = 6 });
        await listener.ConnectAsync();
        // Device OS's own subscriptions to these are not handed to the application; the application's are.
        await listener.SubscribeAsync("spark");
        await listener.SubscribeAsync("particle");
        await listener.SubscribeAsync("cmd/");
        // The subscription is live once a user's event arrives through it.
        await PublishUntilReceivedAsync(client, listener, "cmd/ready");

        await using var device = new VirtualDevice(siblingIdentity, serverKey, "127.0.0.1", server.GatewayPort, new VirtualDeviceOptions { PlatformId = 6 });
        await device.ConnectAsync();
        // Seen on the owner's stream, so already published to the bus, which offers events to a subscription in order.
        Assert.Equal("online", (await NextEventFromAsync(reader, "spark/status", sibling)).GetProperty("data").GetString());
        Assert.Equal("false", (await NextEventFromAsync(reader, "particle/device/updates/forced", sibling)).GetProperty("data").GetString());
        await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices/events", new { name = "cmd/go", data = "now" }));
        // Repeats of cmd/ready may still be queued ahead of it; nothing else may be.
        var heard = await ReceivedUntilAsync(listener, "cmd/go");
        Assert.All(heard, e => Assert.StartsWith("cmd/", e.Name, StringComparison.Ordinal));
        Assert.Equal("now", heard[^1].DataText);

        await device.DisconnectAsync();
        Assert.Equal("offline", (await NextEventFromAsync(reader, "spark/status", sibling)).GetProperty("data").GetString());
        await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices/events", new { name = "cmd/again" }));
        Assert.Equal(["cmd/again"], (await ReceivedUntilAsync(listener, "cmd/again")).Select(e => e.Name).Where(n => n != "cmd/ready"));
    }

    private static async Task<DeviceIdentity> ClaimNewDeviceAsync(HttpClient client)
    {
        var identity = DeviceIdentity.Generate();
        var id = identity.Id.ToString();
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = identity.GetPublicKeyPem(), algorithm = "rsa" }));
        await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id }));
        return identity;
    }

    private static async Task PublishUntilReceivedAsync(HttpClient client, VirtualDevice device, string name)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices/events", new { name }, timeout.Token));
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
            wait.CancelAfter(TimeSpan.FromMilliseconds(200));
            try
            {
                await device.WaitForAsync<CloudEventReceived>(e => e.Name == name, wait.Token);
                return;
            }
            catch (OperationCanceledException) when (!timeout.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>Every event the device received, up to and including the first named <paramref name="name"/>.</summary>
    private static async Task<List<CloudEventReceived>> ReceivedUntilAsync(VirtualDevice device, string name)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var received = new List<CloudEventReceived>();
        while (received.Count == 0 || received[^1].Name != name)
        {
            received.Add(await device.WaitForAsync<CloudEventReceived>(cancellationToken: timeout.Token));
        }
        return received;
    }

    /// <summary>The next event named <paramref name="name"/> that device <paramref name="coreId"/> is the source of.</summary>
    private static async Task<JsonElement> NextEventFromAsync(StreamReader reader, string name, string coreId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        string? current = null;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                current = line[7..];
                continue;
            }
            if (current == name && line.StartsWith("data: ", StringComparison.Ordinal)
                && JsonDocument.Parse(line[6..]).RootElement.Clone() is var data && data.GetProperty("coreid").GetString() == coreId)
            {
                return data;
            }
        }
        throw new EndOfStreamException($"stream ended before {name} from {coreId}");
    }
}
