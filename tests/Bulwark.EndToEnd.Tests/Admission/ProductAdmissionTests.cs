using System.Net.Http.Json;
using System.Text.Json;
using Bulwark.Contracts;
using Bulwark.DeviceSim.Devices;
using Bulwark.EndToEnd.Tests.Infrastructure;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.EndToEnd.Tests.Admission;

/// <summary>Product admission through the gateway with bulwark-sim's <see cref="VirtualDevice"/>: a stranger's device
/// flashed with the product's ID is quarantined and never reaches the product stream; approved it does; denied it stops;
/// a removed device that comes back lands in the denied list.</summary>
public class ProductAdmissionTests
{
    private const ushort Boron = 13;

    [Fact]
    public async Task Quarantine_approve_deny_and_a_removed_device_coming_back()
    {
        await using var server = await StartAsync();
        using var parties = await OwnerAndStrangerAsync(server);
        var (ownerClient, strangerClient, product) = parties;
        var serverKey = ServerPublicKey.FromPem((await JsonAsync(await ownerClient.GetAsync("/v1/keys/server?protocol=tcp")))
            .GetProperty("public_key").GetString()!);

        // The stranger's own device, flashed with firmware carrying the product's ID (Device OS 3.x).
        var identity = DeviceIdentity.Generate();
        var id = identity.Id.ToString();
        await EnsureSuccessAsync(await strangerClient.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = identity.GetPublicKeyPem(), algorithm = "rsa" }));
        await EnsureSuccessAsync(await strangerClient.PostAsJsonAsync("/v1/devices", new { id }));

        using var productStream = await OpenStreamAsync(ownerClient, $"/v1/products/{product}/events");
        using var strangerStream = await OpenStreamAsync(strangerClient, "/v1/devices/events");

        await using var device = new VirtualDevice(identity, serverKey, "127.0.0.1", server.GatewayPort,
            new VirtualDeviceOptions { PlatformId = Boron, ProductId = (ushort)product, SystemVersion = 3300 });
        await device.ConnectAsync();
        await NamesUntilAsync(strangerStream, "spark/status");

        var quarantine = await JsonAsync(await ownerClient.GetAsync($"/v1/products/{product}/devices?quarantined=true"));
        var listed = Assert.Single(quarantine.GetProperty("devices").EnumerateArray());
        Assert.Equal(id, listed.GetProperty("id").GetString());
        Assert.True(listed.GetProperty("quarantined").GetBoolean());

        // Quarantined: its event reaches its owner, never the product.
        await device.PublishAsync("quarantined/reading", "1");
        await NamesUntilAsync(strangerStream, "quarantined/reading");
        await SentinelAsync(ownerClient, product, "sentinel/1");
        var seen = await NamesUntilAsync(productStream, "sentinel/1");
        Assert.DoesNotContain("quarantined/reading", seen);
        Assert.DoesNotContain("spark/status", seen);

        // Approved (the add call), while connected: its events appear.
        var approved = await JsonAsync(await ownerClient.PostAsJsonAsync($"/v1/products/{product}/devices", new { id }));
        Assert.Equal([id], approved.GetProperty("updatedDeviceIds").EnumerateArray().Select(e => e.GetString()!).ToList());
        await device.PublishAsync("approved/reading", "2");
        var approvedEvent = await NamesUntilAsync(productStream, "approved/reading");
        Assert.DoesNotContain("quarantined/reading", approvedEvent);

        // Denied: they stop, and it is in the denied list; the connection stays.
        using (var deny = new HttpRequestMessage(HttpMethod.Delete, $"/v1/products/{product}/devices/{id}") { Content = JsonContent.Create(new { deny = true }) })
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, (await ownerClient.SendAsync(deny)).StatusCode);
        }
        await device.PublishAsync("denied/reading", "3");
        await NamesUntilAsync(strangerStream, "denied/reading");
        await SentinelAsync(ownerClient, product, "sentinel/2");
        Assert.DoesNotContain("denied/reading", await NamesUntilAsync(productStream, "sentinel/2"));
        Assert.True((await JsonAsync(await strangerClient.GetAsync($"/v1/devices/{id}"))).GetProperty("online").GetBoolean());
        var denied = await JsonAsync(await ownerClient.GetAsync($"/v1/products/{product}/devices?denied=true"));
        Assert.Equal(id, Assert.Single(denied.GetProperty("devices").EnumerateArray()).GetProperty("id").GetString());
        await device.DisconnectAsync();

        // A pre-added device on Device OS 6 has full privileges; removed, it comes back into the denied list.
        var member = DeviceIdentity.Generate();
        var memberId = member.Id.ToString();
        await EnsureSuccessAsync(await ownerClient.PostAsJsonAsync($"/v1/provisioning/{memberId}", new { publicKey = member.GetPublicKeyPem(), algorithm = "rsa" }));
        await EnsureSuccessAsync(await ownerClient.PostAsJsonAsync($"/v1/products/{product}/devices", new { id = memberId }));
        await using (var first = new VirtualDevice(member, serverKey, "127.0.0.1", server.GatewayPort,
                         new VirtualDeviceOptions { PlatformId = Boron, ProductId = (ushort)product, SystemVersion = 6200 }))
        {
            await first.ConnectAsync();
            await first.PublishAsync("member/reading", "4");
            await NamesUntilAsync(productStream, "member/reading");
            Assert.Equal(System.Net.HttpStatusCode.NoContent, (await ownerClient.DeleteAsync($"/v1/products/{product}/devices/{memberId}")).StatusCode);
            await first.DisconnectAsync();
        }
        await using var again = new VirtualDevice(member, serverKey, "127.0.0.1", server.GatewayPort,
            new VirtualDeviceOptions { PlatformId = Boron, ProductId = (ushort)product, SystemVersion = 6200 });
        await again.ConnectAsync();
        await again.PublishAsync("removed/reading", "5");
        await SentinelAsync(ownerClient, product, "sentinel/3");
        Assert.DoesNotContain("removed/reading", await NamesUntilAsync(productStream, "sentinel/3"));
        // The admission decision is written just after the Hello; wait for it rather than race it.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        List<string?> deniedAgain;
        do
        {
            deniedAgain = (await JsonAsync(await ownerClient.GetAsync($"/v1/products/{product}/devices?denied=true")))
                .GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("id").GetString()).ToList();
        }
        while (!deniedAgain.Contains(memberId) && DateTime.UtcNow < deadline && await Task.Delay(100).ContinueWith(_ => true));
        Assert.Contains(memberId, deniedAgain);
    }

    [Fact]
    public async Task Over_UDP_a_strangers_gen3_device_is_quarantined_approved_and_denied_and_a_resumed_session_keeps_the_decision()
    {
        await using var server = await StartAsync();
        using var parties = await OwnerAndStrangerAsync(server);
        var (ownerClient, strangerClient, product) = parties;

        // The stranger's own Gen3 device (EC key only), flashed with firmware carrying the product's ID (Device OS 3.x).
        var identity = DeviceIdentity.Generate();
        var id = identity.Id.ToString();
        await Gen3Devices.ProvisionEcKeyAsync(strangerClient, identity);
        await EnsureSuccessAsync(await strangerClient.PostAsJsonAsync("/v1/devices", new { id }));

        using var productStream = await OpenStreamAsync(ownerClient, $"/v1/products/{product}/events");
        using var strangerStream = await OpenStreamAsync(strangerClient, "/v1/devices/events");

        await using var device = Gen3Devices.Create(server, identity, new VirtualDeviceOptions { PlatformId = Boron, ProductId = (ushort)product, SystemVersion = 3300 }
            .OverUdp(await Gen3Devices.ServerEcKeyAsync(strangerClient)));
        await device.ConnectAsync();
        await NamesUntilAsync(strangerStream, "spark/status");
        var quarantine = await JsonAsync(await ownerClient.GetAsync($"/v1/products/{product}/devices?quarantined=true"));
        Assert.Equal(id, Assert.Single(quarantine.GetProperty("devices").EnumerateArray()).GetProperty("id").GetString());
        await device.PublishAsync("quarantined/reading", "1");
        await NamesUntilAsync(strangerStream, "quarantined/reading");
        await SentinelAsync(ownerClient, product, "sentinel/1");
        Assert.DoesNotContain("quarantined/reading", await NamesUntilAsync(productStream, "sentinel/1"));

        // Approved while connected; the approval holds when the device comes back on its saved session with only a ping.
        await EnsureSuccessAsync(await ownerClient.PostAsJsonAsync($"/v1/products/{product}/devices", new { id }));
        await device.PublishAsync("approved/reading", "2");
        await NamesUntilAsync(productStream, "approved/reading");
        await ResumeWithoutHelloAsync(device, strangerStream);
        await device.PublishAsync("resumed/reading", "3");
        Assert.DoesNotContain("quarantined/reading", await NamesUntilAsync(productStream, "resumed/reading"));

        // Denied: likewise out of the product's stream, also after resuming.
        using (var deny = new HttpRequestMessage(HttpMethod.Delete, $"/v1/products/{product}/devices/{id}") { Content = JsonContent.Create(new { deny = true }) })
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, (await ownerClient.SendAsync(deny)).StatusCode);
        }
        await ResumeWithoutHelloAsync(device, strangerStream);
        await device.PublishAsync("denied/reading", "4");
        await NamesUntilAsync(strangerStream, "denied/reading");
        await SentinelAsync(ownerClient, product, "sentinel/2");
        Assert.DoesNotContain("denied/reading", await NamesUntilAsync(productStream, "sentinel/2"));
        var denied = await JsonAsync(await ownerClient.GetAsync($"/v1/products/{product}/devices?denied=true"));
        Assert.Equal(id, Assert.Single(denied.GetProperty("devices").EnumerateArray()).GetProperty("id").GetString());
    }

    /// <summary>Disconnects a Gen3 device and brings it back on its saved DTLS session with a ping and no Hello.</summary>
    private static async Task ResumeWithoutHelloAsync(VirtualDevice device, StreamReader ownerStream)
    {
        await device.DisconnectAsync();
        await device.ConnectAsync();
        var resumed = await device.WaitForAsync<DeviceConnected>(c => c.SessionResumed);
        Assert.True(resumed.HelloSkipped);
        // Offline then online again, seen by the owner, so the session is in place before the next event.
        await NamesUntilAsync(ownerStream, "spark/status");
        await NamesUntilAsync(ownerStream, "spark/status");
    }

    /// <summary>A Boron product's owner, and a stranger whose own device claims that product.</summary>
    private sealed record Parties(HttpClient Owner, HttpClient Stranger, int Product) : IDisposable
    {
        public void Dispose()
        {
            Owner.Dispose();
            Stranger.Dispose();
        }
    }

    private static async Task<Parties> OwnerAndStrangerAsync(BulwarkTestServer server)
    {
        var owner = server.CreateClient((await server.CreateUserAsync()).Token);
        var stranger = server.CreateClient((await server.CreateUserAsync()).Token);
        return new Parties(owner, stranger, await CreateProductAsync(owner));
    }

    private static async Task<int> CreateProductAsync(HttpClient client)
    {
        var response = await client.PostAsJsonAsync("/v1/user/products",
            new { product = new { name = "Admission e2e " + Guid.NewGuid().ToString("N")[..8], platform_id = Boron } }, ApiJson.Options);
        await EnsureSuccessAsync(response);
        return (await JsonAsync(response)).GetProperty("product").GetProperty("id").GetInt32();
    }

    private static async Task SentinelAsync(HttpClient client, int product, string name) =>
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/products/{product}/events", new { name, data = "x" }));

    private static async Task<StreamReader> OpenStreamAsync(HttpClient client, string path)
    {
        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, path), HttpCompletionOption.ResponseHeadersRead);
        await EnsureSuccessAsync(response);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal(":ok", await reader.ReadLineAsync());
        return reader;
    }

    /// <summary>Reads events until <paramref name="name"/> arrives; answers every event name seen before it.</summary>
    private static async Task<List<string>> NamesUntilAsync(StreamReader reader, string name)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var seen = new List<string>();
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                var current = line[7..];
                if (current == name)
                {
                    return seen;
                }
                seen.Add(current);
            }
        }
        throw new EndOfStreamException("stream ended before " + name);
    }
}
