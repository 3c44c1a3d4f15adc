using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Bulwark.Protocol;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Devices;

/// <summary>The Gen3 UDP/DTLS gateway over real loopback sockets, with a device built on the protocol library.</summary>
public class UdpGatewayTests
{
    private static Dictionary<string, string?> Settings(double sessionMaxAgeHours = 24, int requestTimeoutSeconds = 5) => new()
    {
        ["Bulwark:Gateway:RequestTimeoutSeconds"] = requestTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Bulwark:Gateway:UdpSessionMaxAgeHours"] = sessionMaxAgeHours.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Bulwark:Events:KeepAliveSeconds"] = "1",
    };

    private sealed record Gen3Setup(BulwarkTestServer Server, HttpClient Client, DeviceId Id, ECDsa Key, ECDsa ServerKey, IPEndPoint Udp) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            Key.Dispose();
            ServerKey.Dispose();
            await Server.DisposeAsync();
        }
    }

    private static async Task<Gen3Setup> StartWithDeviceAsync(string provider = TestDatabase.Sqlite, double sessionMaxAgeHours = 24,
        int requestTimeoutSeconds = 5)
    {
        var server = await StartAsync(provider, Settings(sessionMaxAgeHours, requestTimeoutSeconds));
        var user = await server.CreateUserAsync();
        var client = server.CreateClient(user.Token);
        var id = DeviceId.FromBytes(RandomNumberGenerator.GetBytes(12));
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = key.ExportSubjectPublicKeyInfoPem(), algorithm = "ecc" }));
        await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id = id.ToString() }));
        var serverKey = ECDsa.Create();
        serverKey.ImportFromPem((await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=udp"))).GetProperty("public_key").GetString());
        return new Gen3Setup(server, client, id, key, serverKey, new IPEndPoint(IPAddress.Loopback, server.UdpGatewayPort));
    }

    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_gen3_device_handshakes_says_hello_publishes_and_answers_calls_and_reads(string provider)
    {
        await using var setup = await StartWithDeviceAsync(provider);
        var (_, client, id, _, _, _) = setup;
        await using var stream = await SseReader.OpenAsync(client, "/v1/devices/events");
        await using var device = await TestGen3Device.HandshakeAsync(setup.Udp, setup.Key, setup.ServerKey);
        device.Functions["led"] = arg => arg.Length;
        device.Variables["ivalue"] = () => [0, 0, 0x01, 0x02];

        var helloAck = await device.HelloAsync(TestGen3Device.HelloFor(id, platformId: 32, productId: 32, productVersion: 4, systemVersion: 6200));
        Assert.Equal(CoapMessageType.Acknowledgement, helloAck.Type);
        Assert.Equal("online", (await stream.NextAsync("spark/status")).Data.GetProperty("data").GetString());

        await device.DescribeAsync();
        var eventAck = await device.PublishAsync("temp", "21.5");
        Assert.Equal(CoapMessageType.Acknowledgement, eventAck.Type);
        Assert.True(eventAck.Code.IsEmpty);
        var temp = await stream.NextAsync("temp");
        Assert.Equal("21.5", temp.Data.GetProperty("data").GetString());
        Assert.Equal(id.ToString(), temp.Data.GetProperty("coreid").GetString());

        await DeviceTestKit.EventuallyAsync(async () =>
            (await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("functions").GetArrayLength() == 1, "Describe recorded");
        var info = await JsonAsync(await client.GetAsync($"/v1/devices/{id}"));
        Assert.True(info.GetProperty("online").GetBoolean());
        Assert.Equal(32, info.GetProperty("platform_id").GetInt32());
        Assert.Equal(4, info.GetProperty("firmware_version").GetInt32());
        Assert.Equal("6.2.0", info.GetProperty("system_firmware_version").GetString());

        var call = await JsonAsync(await client.PostAsJsonAsync($"/v1/devices/{id}/led", new { args = "hello" }));
        Assert.Equal(5, call.GetProperty("return_value").GetInt32());
        Assert.Equal(258, (await JsonAsync(await client.GetAsync($"/v1/devices/{id}/ivalue"))).GetProperty("result").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/devices/{id}/nothing")).StatusCode);
        Assert.True((await JsonAsync(await client.PutAsync($"/v1/devices/{id}/ping", null))).GetProperty("online").GetBoolean());

        await device.Coap.SendAsync(ParticleMessages.Goodbye(CoapMessageType.NonConfirmable, device.Coap.NextMessageId(), new GoodbyeMessage(1, null, null, null)));
        Assert.Equal("offline", (await stream.NextAsync("spark/status")).Data.GetProperty("data").GetString());
        Assert.False((await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("online").GetBoolean());
    }

    [Fact]
    public async Task A_hello_naming_another_device_is_refused_and_audited()
    {
        await using var setup = await StartWithDeviceAsync();
        await using var device = await TestGen3Device.HandshakeAsync(setup.Udp, setup.Key, setup.ServerKey);
        var other = DeviceId.FromBytes(RandomNumberGenerator.GetBytes(12));

        var answer = await device.HelloAsync(TestGen3Device.HelloFor(other));
        Assert.Equal(CoapMessageType.Reset, answer.Type);
        await DeviceTestKit.EventuallyAsync(async () => (await DeviceTestKit.AuditAsync(setup.Server, AuditEventType.DeviceProtocolViolation))
            .Any(e => e.Details != null && e.Details.Contains(other.ToString(), StringComparison.Ordinal)), "refusal audited");
        Assert.False((await JsonAsync(await setup.Client.GetAsync($"/v1/devices/{setup.Id}"))).GetProperty("online").GetBoolean());
    }

    [Fact]
    public async Task An_unregistered_key_fails_the_handshake_and_is_audited()
    {
        await using var setup = await StartWithDeviceAsync();
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await Assert.ThrowsAnyAsync<Exception>(() => TestGen3Device.HandshakeAsync(setup.Udp, stranger, setup.ServerKey, TimeSpan.FromSeconds(5)));
        await DeviceTestKit.EventuallyAsync(async () => (await DeviceTestKit.AuditAsync(setup.Server, AuditEventType.DeviceHandshakeRefused)).Count > 0,
            "refusal audited");
    }

    [Fact]
    public async Task A_device_that_restores_its_session_from_a_new_port_is_served_without_handshake_or_hello()
    {
        await using var setup = await StartWithDeviceAsync();
        var (_, client, id, _, _, _) = setup;
        await using var stream = await SseReader.OpenAsync(client, "/v1/devices/events");
        var first = await TestGen3Device.HandshakeAsync(setup.Udp, setup.Key, setup.ServerKey);
        await first.HelloAsync(TestGen3Device.HelloFor(id, productVersion: 9));
        Assert.Equal("online", (await stream.NextAsync("spark/status")).Data.GetProperty("data").GetString());

        // Still connected as far as the cloud knows: the restored session carries on the same CoAP session.
        var saved = first.SaveSession();
        var nextId = first.PeekNextMessageId();
        var oldPort = first.LocalEndPoint.Port;
        await first.DisposeAsync();
        await using (var restored = TestGen3Device.Resume(saved, nextId, setup.Udp, setup.Key, setup.ServerKey))
        {
            Assert.NotEqual(oldPort, restored.LocalEndPoint.Port);
            Assert.Equal(CoapMessageType.Acknowledgement, (await restored.PingAsync()).Type);
            await restored.PublishAsync("moved", "yes");
            Assert.Equal("yes", (await stream.NextAsync("moved")).Data.GetProperty("data").GetString());
            await restored.Coap.SendAsync(ParticleMessages.Goodbye(CoapMessageType.NonConfirmable, restored.Coap.NextMessageId(), new GoodbyeMessage(1, null, null, null)));
            Assert.Equal("offline", (await stream.NextAsync("spark/status")).Data.GetProperty("data").GetString());
            saved = restored.SaveSession();
            nextId = restored.PeekNextMessageId();
        }

        // After the CoAP session ended: a ping alone brings the device back, with the Hello it sent before.
        await using var again = TestGen3Device.Resume(saved, nextId, setup.Udp, setup.Key, setup.ServerKey);
        again.Functions["led"] = arg => 7;
        Assert.Equal(CoapMessageType.Acknowledgement, (await again.PingAsync()).Type);
        Assert.Equal("online", (await stream.NextAsync("spark/status")).Data.GetProperty("data").GetString());
        Assert.Equal(7, (await JsonAsync(await client.PostAsJsonAsync($"/v1/devices/{id}/led", new { arg = "" }))).GetProperty("return_value").GetInt32());
        Assert.Equal(9, (await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("firmware_version").GetInt32());
    }

    [Fact]
    public async Task An_old_session_that_resumes_gets_key_change_and_the_device_handshakes_again()
    {
        await using var setup = await StartWithDeviceAsync(sessionMaxAgeHours: 1.0 / 3600); // one second
        var (_, client, id, _, _, _) = setup;
        var first = await TestGen3Device.HandshakeAsync(setup.Udp, setup.Key, setup.ServerKey);
        await first.HelloAsync(TestGen3Device.HelloFor(id));
        await first.Coap.SendAsync(ParticleMessages.Goodbye(CoapMessageType.NonConfirmable, first.Coap.NextMessageId(), new GoodbyeMessage(1, null, null, null)));
        var saved = first.SaveSession();
        var nextId = first.PeekNextMessageId();
        await first.DisposeAsync();
        await DeviceTestKit.EventuallyAsync(async () => !(await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("online").GetBoolean(), "offline");
        await Task.Delay(TimeSpan.FromSeconds(1.2));

        await using (var resumed = TestGen3Device.Resume(saved, nextId, setup.Udp, setup.Key, setup.ServerKey))
        {
            await resumed.Coap.SendAsync(ParticleMessages.Ping(resumed.Coap.NextMessageId()));
            var keyChange = await resumed.KeyChange.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(ParticleMessageKind.KeyChange, ParticleMessageClassifier.Classify(keyChange));
            Assert.Equal([1], keyChange.Options.Single(o => o.Number == CoapOptionNumber.UriQuery).Value.ToArray());
        }

        await using var fresh = await TestGen3Device.HandshakeAsync(setup.Udp, setup.Key, setup.ServerKey);
        Assert.Equal(CoapMessageType.Acknowledgement, (await fresh.HelloAsync(TestGen3Device.HelloFor(id))).Type);
        await DeviceTestKit.EventuallyAsync(async () => (await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("online").GetBoolean(), "online again");
    }

    [Fact]
    public async Task With_a_tenth_of_datagrams_lost_and_some_reordered_everything_completes_and_nothing_happens_twice()
    {
        await using var setup = await StartWithDeviceAsync(requestTimeoutSeconds: 60);
        var (_, client, id, _, _, _) = setup;
        await using var proxy = new Bulwark.Protocol.Tests.Dtls.LossyUdpProxy(setup.Udp, dropRate: 0.10, reorderRate: 0.15, seed: 7);
        await using var stream = await SseReader.OpenAsync(client, "/v1/devices/events");
        await using var device = await TestGen3Device.HandshakeAsync(proxy.EndPoint, setup.Key, setup.ServerKey, TimeSpan.FromSeconds(60),
            new Bulwark.Protocol.Dtls.DtlsClientOptions { InitialRetransmitTimeout = TimeSpan.FromMilliseconds(500) });
        var calls = 0;
        device.Functions["count"] = _ => Interlocked.Increment(ref calls);

        Assert.Equal(CoapMessageType.Acknowledgement, (await device.HelloAsync(TestGen3Device.HelloFor(id))).Type);
        await device.DescribeAsync();
        for (var i = 0; i < 20; i++)
        {
            await device.PublishAsync("seq", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        for (var i = 1; i <= 5; i++)
        {
            var call = await JsonAsync(await client.PostAsJsonAsync($"/v1/devices/{id}/count", new { arg = "" }));
            Assert.Equal(i, call.GetProperty("return_value").GetInt32());
        }

        // Every event reached the stream exactly once and in order, although some were sent twice.
        var seen = new List<string>();
        while (seen.Count < 20)
        {
            seen.Add((await stream.NextAsync("seq")).Data.GetProperty("data").GetString()!);
        }
        Assert.Equal(Enumerable.Range(0, 20).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), seen);
        Assert.Equal(5, calls);
        Assert.True(proxy.Dropped > 0, "the shim dropped nothing; the test proves nothing");
        // About 80 datagrams without loss; retransmissions add some, but a flight storm (each repeated record
        // answered with a whole flight, seen before the fix) ran to thousands.
        Assert.InRange(proxy.Seen, 60, 400);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.NextAsync("seq", TimeSpan.FromSeconds(3)));
    }
}
