using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Devices;

/// <summary>The gateway over real loopback sockets, with a device built on the protocol library.</summary>
public class GatewayTests
{
    private static readonly Dictionary<string, string?> FastTimeouts = new()
    {
        ["Bulwark:Gateway:HandshakeTimeoutSeconds"] = "1",
        ["Bulwark:Gateway:RequestTimeoutSeconds"] = "2",
        ["Bulwark:Events:KeepAliveSeconds"] = "1",
    };

    [Fact]
    public async Task A_device_connects_reports_its_hello_publishes_and_answers_calls_and_reads()
    {
        await using var server = await StartAsync(settings: FastTimeouts);
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var (id, key) = DeviceTestKit.NewIdentity();
        await DeviceTestKit.ProvisionAsync(client, id, key);
        var serverKey = await DeviceTestKit.ServerKeyAsync(server);

        await using var stream = await SseReader.OpenAsync(client, "/v1/devices/events");
        await using var deviceStream = await SseReader.OpenAsync(client, $"/v1/devices/{id}/events/temp");
        await using var device = await TestGen2Device.ConnectAsync(server.GatewayPort, id, key, serverKey, platformId: 6, productId: 6, productVersion: 7, systemVersion: 6200);
        device.Functions["led"] = arg => arg.Length;
        device.Variables["ivalue"] = () => [0, 0, 0x01, 0x02];
        device.Variables["sname"] = () => "hello"u8.ToArray();
        await device.ServerHello.Task.WaitAsync(TimeSpan.FromSeconds(4)); // Device OS gives up after 4 s.

        var online = await stream.NextAsync("spark/status");
        Assert.Equal("online", online.Data.GetProperty("data").GetString());
        Assert.Equal(id.ToString(), online.Data.GetProperty("coreid").GetString());

        await device.DescribeAsync();
        await device.PublishAsync("temp", "21.5");
        var temp = await stream.NextAsync("temp");
        Assert.Equal("21.5", temp.Data.GetProperty("data").GetString());
        Assert.Equal(60, temp.Data.GetProperty("ttl").GetInt32());
        Assert.Equal(id.ToString(), temp.Data.GetProperty("coreid").GetString());
        Assert.Equal("21.5", (await deviceStream.NextAsync("temp")).Data.GetProperty("data").GetString());

        await DeviceTestKit.EventuallyAsync(async () =>
            (await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("functions").GetArrayLength() == 1, "Describe recorded");
        var info = await JsonAsync(await client.GetAsync($"/v1/devices/{id}"));
        Assert.True(info.GetProperty("online").GetBoolean());
        Assert.True(info.GetProperty("connected").GetBoolean());
        Assert.Equal(6, info.GetProperty("platform_id").GetInt32());
        Assert.Equal(6, info.GetProperty("product_id").GetInt32());
        Assert.Equal(7, info.GetProperty("firmware_version").GetInt32());
        Assert.Equal("6.2.0", info.GetProperty("system_firmware_version").GetString());
        Assert.Equal("127.0.0.1", info.GetProperty("last_ip_address").GetString());
        Assert.NotEqual(JsonValueKindNull, info.GetProperty("last_handshake_at").ValueKind);
        Assert.Equal("int32", info.GetProperty("variables").GetProperty("ivalue").GetString());

        var call = await JsonAsync(await client.PostAsJsonAsync($"/v1/devices/{id}/led", new { args = "hello" }));
        Assert.Equal(5, call.GetProperty("return_value").GetInt32());
        Assert.True(call.GetProperty("connected").GetBoolean());
        var form = await JsonAsync(await client.PostAsync($"/v1/devices/{id}/led", new FormUrlEncodedContent(new Dictionary<string, string> { ["arg"] = "on" })));
        Assert.Equal(2, form.GetProperty("return_value").GetInt32());
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsJsonAsync($"/v1/devices/{id}/nope", new { arg = "" })).StatusCode);

        var variable = await JsonAsync(await client.GetAsync($"/v1/devices/{id}/ivalue"));
        Assert.Equal(258, variable.GetProperty("result").GetInt32());
        Assert.Equal(id.ToString(), variable.GetProperty("coreInfo").GetProperty("deviceID").GetString());
        Assert.Equal("hello", (await JsonAsync(await client.GetAsync($"/v1/devices/{id}/sname"))).GetProperty("result").GetString());

        var ping = await JsonAsync(await client.PutAsync($"/v1/devices/{id}/ping", null));
        Assert.True(ping.GetProperty("online").GetBoolean());
        var signalResponse = await client.PutAsJsonAsync($"/v1/devices/{id}", new { signal = "1" });
        await EnsureSuccessAsync(signalResponse);
        var signal = await JsonAsync(signalResponse);
        Assert.True(signal.GetProperty("signaling").GetBoolean());

        // Events from the API reach the device's subscriptions.
        await device.SubscribeAsync("cmd/");
        await DeviceTestKit.EventuallyAsync(async () =>
        {
            await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices/events", new { name = "cmd/go", data = "now" }));
            while (device.Received.Reader.TryRead(out var m))
            {
                if (ParticleMessageClassifier.Classify(m) == ParticleMessageKind.Event && EventMessage.TryParse(m, out var evt) && evt.Name == "cmd/go")
                {
                    return evt.GetDataString() == "now";
                }
            }
            return false;
        }, "event delivered to the device");

        // Goodbye: offline at once.
        await device.SendAsync(ParticleMessages.Goodbye(CoapMessageType.NonConfirmable, 1, new GoodbyeMessage(1, null, null, null)));
        var offline = await stream.NextAsync("spark/status");
        Assert.Equal("offline", offline.Data.GetProperty("data").GetString());
        Assert.False((await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("online").GetBoolean());
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    [Fact]
    public async Task A_quiet_device_is_pinged_and_kept_while_it_answers_and_closed_when_it_does_not()
    {
        // Device OS pings only after 15 s without *receiving* anything, so a device that hears events often is silent.
        await using var server = await StartAsync(settings: new Dictionary<string, string?>(FastTimeouts) { ["Bulwark:Gateway:IdleTimeoutSeconds"] = "1" });
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var serverKey = await DeviceTestKit.ServerKeyAsync(server);
        var (aliveId, aliveKey) = DeviceTestKit.NewIdentity();
        var (deadId, deadKey) = DeviceTestKit.NewIdentity();
        await DeviceTestKit.ProvisionAsync(client, aliveId, aliveKey);
        await DeviceTestKit.ProvisionAsync(client, deadId, deadKey);

        await using var alive = await TestGen2Device.ConnectAsync(server.GatewayPort, aliveId, aliveKey, serverKey, platformId: 6, productId: 6, productVersion: 1, systemVersion: 6200);
        await using var dead = await TestGen2Device.ConnectAsync(server.GatewayPort, deadId, deadKey, serverKey, platformId: 6, productId: 6, productVersion: 1, systemVersion: 6200);
        dead.AnswerPings = false;
        await alive.ServerHello.Task.WaitAsync(TimeSpan.FromSeconds(4));
        await dead.ServerHello.Task.WaitAsync(TimeSpan.FromSeconds(4));

        // Idle 1 s, then a ping and 1 s for the answer: the silent one is gone well within 6 s, the other stays.
        await dead.Closed.Task.WaitAsync(TimeSpan.FromSeconds(6));
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(alive.Closed.Task.IsCompleted);
        Assert.True((await JsonAsync(await client.GetAsync($"/v1/devices/{aliveId}"))).GetProperty("online").GetBoolean());
        var pings = 0;
        while (alive.Received.Reader.TryRead(out var message))
        {
            pings += ParticleMessageClassifier.Classify(message) == ParticleMessageKind.Ping ? 1 : 0;
        }
        Assert.True(pings >= 2, $"{pings} pings");
    }

    [Fact]
    public async Task A_function_the_device_never_answers_times_out_with_408()
    {
        await using var server = await StartAsync(settings: FastTimeouts);
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var (id, key) = DeviceTestKit.NewIdentity();
        await DeviceTestKit.ProvisionAsync(client, id, key);
        await using var device = await TestGen2Device.ConnectAsync(server.GatewayPort, id, key, await DeviceTestKit.ServerKeyAsync(server));
        await device.ServerHello.Task.WaitAsync(TimeSpan.FromSeconds(4));
        await DeviceTestKit.EventuallyAsync(async () => (await JsonAsync(await client.GetAsync($"/v1/devices/{id}"))).GetProperty("online").GetBoolean(), "online");
        // No Describe was sent, so the server cannot know the function is missing; the device only ACKs.
        var response = await client.PostAsJsonAsync($"/v1/devices/{id}/silent", new { arg = "x" });
        Assert.Equal(HttpStatusCode.RequestTimeout, response.StatusCode);
    }

    [Fact]
    public async Task Refused_connections_are_closed_quickly_audited_and_do_not_disturb_connected_devices()
    {
        await using var server = await StartAsync(settings: FastTimeouts);
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var serverKey = await DeviceTestKit.ServerKeyAsync(server);
        var (goodId, goodKey) = DeviceTestKit.NewIdentity();
        await DeviceTestKit.ProvisionAsync(client, goodId, goodKey);
        await using var good = await TestGen2Device.ConnectAsync(server.GatewayPort, goodId, goodKey, serverKey);
        await good.ServerHello.Task.WaitAsync(TimeSpan.FromSeconds(4));

        // Unknown device.
        var (unknownId, unknownKey) = DeviceTestKit.NewIdentity();
        await Assert.ThrowsAsync<InvalidOperationException>(() => TestGen2Device.ConnectAsync(server.GatewayPort, unknownId, unknownKey, serverKey));

        // Known ID, wrong key.
        var (wrongId, wrongKey) = DeviceTestKit.NewIdentity();
        await DeviceTestKit.ProvisionAsync(client, wrongId, wrongKey);
        await Assert.ThrowsAsync<InvalidOperationException>(() => TestGen2Device.ConnectAsync(server.GatewayPort, wrongId, DeviceTestKit.NewIdentity().Key, serverKey));

        // Garbage instead of the identification: closed as soon as 256 bytes arrive.
        await AssertClosedWithinAsync(server.GatewayPort, Encoding.ASCII.GetBytes(new string('G', 256)), TimeSpan.FromSeconds(2));
        // Slow loris: a few bytes and then silence; cut off at the 1 s handshake deadline.
        await AssertClosedWithinAsync(server.GatewayPort, [1, 2, 3], TimeSpan.FromSeconds(3));

        // A connected device that sends a frame with an impossible length is dropped, alone.
        var (badId, badKey) = DeviceTestKit.NewIdentity();
        await DeviceTestKit.ProvisionAsync(client, badId, badKey);
        await using (var bad = await TestGen2Device.ConnectAsync(server.GatewayPort, badId, badKey, serverKey))
        {
            await bad.ServerHello.Task.WaitAsync(TimeSpan.FromSeconds(4));
            await bad.WriteRawAsync([0xFF, 0xFF, 1, 2, 3]);
            await bad.Closed.Task.WaitAsync(TimeSpan.FromSeconds(3));
        }

        await DeviceTestKit.EventuallyAsync(async () => (await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceHandshakeRefused)).Count >= 4,
            "four handshake refusals audited");
        var refusals = await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceHandshakeRefused);
        Assert.Contains(refusals, r => r.SubjectId == unknownId.ToString() && r.Details == "unknown device");
        Assert.Contains(refusals, r => r.SubjectId == wrongId.ToString() && r.Details!.Contains("does not match", StringComparison.Ordinal));
        Assert.Contains(refusals, r => r.Details!.Contains("did not decrypt", StringComparison.Ordinal));
        Assert.Contains(refusals, r => r.Details!.Contains("in time", StringComparison.Ordinal));
        Assert.All(refusals, r => Assert.Equal("127.0.0.1", r.IpAddress));
        await DeviceTestKit.EventuallyAsync(async () => (await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceProtocolViolation))
            .Any(r => r.SubjectId == badId.ToString()), "bad frame audited");

        // The good device never noticed.
        var ping = await JsonAsync(await client.PutAsync($"/v1/devices/{goodId}/ping", null));
        Assert.True(ping.GetProperty("online").GetBoolean());
        Assert.False(good.Closed.Task.IsCompleted);
    }

    [Fact]
    public async Task A_flood_of_refusals_is_summarised_not_written_row_by_row()
    {
        var settings = new Dictionary<string, string?>(FastTimeouts) { ["Bulwark:Gateway:RefusalAuditsPerAddressPerMinute"] = "3" };
        await using var server = await StartAsync(settings: settings);
        for (var i = 0; i < 10; i++)
        {
            await AssertClosedWithinAsync(server.GatewayPort, new byte[256], TimeSpan.FromSeconds(2));
        }
        await DeviceTestKit.EventuallyAsync(async () => (await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceHandshakeRefused)).Count == 3,
            "three rows for the address");
        await Task.Delay(200);
        Assert.Equal(3, (await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceHandshakeRefused)).Count);
    }

    [Fact]
    public async Task Unknown_devices_may_register_on_first_connection_only_when_allowed()
    {
        var settings = new Dictionary<string, string?>(FastTimeouts) { ["Bulwark:Gateway:AllowUnknownDevices"] = "true" };
        await using var server = await StartAsync(settings: settings);
        var serverKey = await DeviceTestKit.ServerKeyAsync(server);
        var (id, key) = DeviceTestKit.NewIdentity();
        await Assert.ThrowsAsync<InvalidOperationException>(() => TestGen2Device.ConnectAsync(server.GatewayPort, id, key, serverKey));
        await DeviceTestKit.EventuallyAsync(async () => (await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceAutoRegistered)).Count == 1, "registered");
        await using var device = await TestGen2Device.ConnectAsync(server.GatewayPort, id, key, serverKey);
        await device.ServerHello.Task.WaitAsync(TimeSpan.FromSeconds(4));

        // Once registered, a different key for the same ID is still refused.
        await Assert.ThrowsAsync<InvalidOperationException>(() => TestGen2Device.ConnectAsync(server.GatewayPort, id, DeviceTestKit.NewIdentity().Key, serverKey));
    }

    private static async Task AssertClosedWithinAsync(int port, byte[] payload, TimeSpan limit)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        var nonce = new byte[40];
        await stream.ReadExactlyAsync(nonce);
        var watch = Stopwatch.StartNew();
        await stream.WriteAsync(payload);
        var buffer = new byte[512];
        using var cts = new CancellationTokenSource(limit + TimeSpan.FromSeconds(5));
        int read;
        try
        {
            while ((read = await stream.ReadAsync(buffer, cts.Token)) > 0)
            {
            }
        }
        catch (IOException)
        {
        }
        Assert.True(watch.Elapsed < limit, $"closed after {watch.Elapsed}, expected within {limit}");
    }
}
