using System.Net;
using System.Net.Http.Json;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Devices;

public class DeviceApiTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Fact]
    public async Task Server_keys_are_generated_once_and_served_as_pem_and_device_blob()
    {
        await using var server = await BulwarkTestServer.StartAsync();
        using var client = server.CreateClient();
        var tcp = await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=tcp"));
        var rsa = ServerPublicKey.FromPem(tcp.GetProperty("public_key").GetString()!);
        Assert.Equal(256, rsa.Modulus.Length);
        var udp = await JsonAsync(await client.GetAsync("/v1/keys/server?protocol=udp"));
        Assert.Contains("BEGIN PUBLIC KEY", udp.GetProperty("public_key").GetString(), StringComparison.Ordinal);

        var blob = await client.GetByteArrayAsync("/v1/keys/server?protocol=tcp&format=device&host=127.0.0.1");
        Assert.Equal(ServerKeyBlob.TcpLength, blob.Length);
        Assert.True(ServerKeyBlob.TryParse(blob, out var contents));
        Assert.Equal("127.0.0.1", contents.Host);
        Assert.Equal(rsa.Modulus.ToArray(), ServerPublicKey.FromSpki(contents.PublicKey).Modulus.ToArray());
        var udpBlob = await client.GetByteArrayAsync("/v1/keys/server?protocol=udp&format=device&host=cloud.example.com");
        Assert.Equal(ServerKeyBlob.UdpLength, udpBlob.Length);

        // Private halves are never stored in the clear.
        var keyFiles = Directory.GetFiles(Path.Combine(server.DataDirectory, "keys"));
        foreach (var file in keyFiles)
        {
            Assert.DoesNotContain("PRIVATE KEY", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/v1/keys/server?protocol=carrier-pigeon")).StatusCode);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Provisioning_does_not_claim_and_only_the_owner_sees_the_device(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var alice = await server.CreateUserAsync();
        var mallory = await server.CreateUserAsync();
        using var a = server.CreateClient(alice.Token);
        using var m = server.CreateClient(mallory.Token);
        var (id, key) = DeviceTestKit.NewIdentity();

        // Form encoding works as well as JSON.
        var form = await a.PostAsync($"/v1/provisioning/{id}", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["publicKey"] = key.PublicKey.ToPem(),
            ["algorithm"] = "rsa",
        }));
        await EnsureSuccessAsync(form);
        Assert.Empty((await JsonAsync(await a.GetAsync("/v1/devices"))).EnumerateArray());

        // Someone else cannot swap the key of a registered device.
        var (_, otherKey) = DeviceTestKit.NewIdentity();
        var swap = await m.PostAsJsonAsync($"/v1/provisioning/{id}", new { publicKey = otherKey.PublicKey.ToPem(), algorithm = "rsa" });
        Assert.Equal(HttpStatusCode.Conflict, swap.StatusCode);

        await EnsureSuccessAsync(await a.PostAsJsonAsync("/v1/devices", new { id = id.ToString() }));
        var list = (await JsonAsync(await a.GetAsync("/v1/devices"))).EnumerateArray().ToList();
        var device = Assert.Single(list);
        Assert.Equal(id.ToString(), device.GetProperty("id").GetString());
        Assert.False(device.GetProperty("online").GetBoolean());

        // Mallory can neither see, claim, call nor rename it: all 404, as for an unknown device.
        Assert.Equal(HttpStatusCode.NotFound, (await m.GetAsync($"/v1/devices/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await m.PostAsJsonAsync("/v1/devices", new { id = id.ToString() })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await m.PostAsJsonAsync($"/v1/devices/{id}/led", new { arg = "on" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await m.PutAsJsonAsync($"/v1/devices/{id}", new { name = "mine" })).StatusCode);
        Assert.Empty((await JsonAsync(await m.GetAsync("/v1/devices"))).EnumerateArray());

        // Rename, notes; then the name works in place of the ID.
        var rename = await JsonAsync(await a.PutAsJsonAsync($"/v1/devices/{id}", new { name = "porch_light", notes = "by the door" }));
        Assert.Equal("porch_light", rename.GetProperty("name").GetString());
        var byName = await JsonAsync(await a.GetAsync("/v1/devices/porch_light"));
        Assert.Equal("by the door", byName.GetProperty("notes").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await a.PutAsJsonAsync($"/v1/devices/{id}", new { name = "no spaces allowed" })).StatusCode);

        // Offline device: calls answer 404 device offline.
        var call = await a.PostAsJsonAsync($"/v1/devices/{id}/led", new { arg = "on" });
        Assert.Equal(HttpStatusCode.NotFound, call.StatusCode);

        // Release, and Mallory may now claim it.
        Assert.True((await JsonAsync(await a.DeleteAsync($"/v1/devices/{id}"))).GetProperty("ok").GetBoolean());
        await EnsureSuccessAsync(await m.PostAsJsonAsync("/v1/devices", new { id = id.ToString() }));

        Assert.NotEmpty(await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceKeyRegistered));
        Assert.Equal(2, (await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceClaimed)).Count);
        Assert.Single(await DeviceTestKit.AuditAsync(server, AuditEventType.DeviceReleased));
    }

    [Fact]
    public async Task Bulk_import_registers_many_keys_and_reports_bad_rows()
    {
        await using var server = await BulwarkTestServer.StartAsync();
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var good = Enumerable.Range(0, 3).Select(_ => DeviceTestKit.NewIdentity()).ToList();
        var rows = good.Select(g => (object)new { id = g.Id.ToString(), publicKey = g.Key.PublicKey.ToPem(), algorithm = "rsa" }).ToList();
        rows.Add(new { id = "not-an-id", publicKey = "x", algorithm = "rsa" });
        rows.Add(new { id = good[0].Id.ToString().Replace('0', '1'), publicKey = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", algorithm = "rsa" });
        var body = await JsonAsync(await client.PostAsJsonAsync("/v1/provisioning", new { devices = rows }));
        Assert.Equal(3, body.GetProperty("imported").GetInt32());
        Assert.Equal(2, body.GetProperty("errors").GetArrayLength());
        Assert.False(body.GetProperty("ok").GetBoolean());
        foreach (var g in good)
        {
            await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/devices", new { id = g.Id.ToString() }));
        }
        Assert.Equal(3, (await JsonAsync(await client.GetAsync("/v1/devices"))).GetArrayLength());
    }

    [Fact]
    public async Task Event_streams_need_a_prefix_and_carry_only_the_callers_events()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: new Dictionary<string, string?> { ["Bulwark:Events:KeepAliveSeconds"] = "0.3" });
        var alice = await server.CreateUserAsync();
        var bob = await server.CreateUserAsync();
        using var a = server.CreateClient(alice.Token);
        using var b = server.CreateClient(bob.Token);

        var missing = await a.GetAsync("/v1/events");
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        var problem = await JsonAsync(missing);
        Assert.False(problem.GetProperty("ok").GetBoolean());
        Assert.Equal("event prefix filter is required", problem.GetProperty("error").GetString());

        await using var aliceStream = await SseReader.OpenAsync(a, "/v1/events/weather");
        await using var bobStream = await SseReader.OpenAsync(b, "/v1/devices/events");
        Assert.Equal("text/event-stream", aliceStream.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(":ok", await aliceStream.Lines.Reader.ReadAsync());
        Assert.Equal(":ok", await bobStream.Lines.Reader.ReadAsync());

        await EnsureSuccessAsync(await a.PostAsJsonAsync("/v1/devices/events", new { name = "other", data = "x" }));
        await EnsureSuccessAsync(await a.PostAsJsonAsync("/v1/devices/events", new { name = "weather/temp", data = "21.5", ttl = 120, @private = true }));
        var e = await aliceStream.NextAsync("weather/temp");
        Assert.Equal("21.5", e.Data.GetProperty("data").GetString());
        Assert.Equal(120, e.Data.GetProperty("ttl").GetInt32());
        Assert.EndsWith("Z", e.Data.GetProperty("published_at").GetString(), StringComparison.Ordinal);
        Assert.Equal("api", e.Data.GetProperty("coreid").GetString());
        Assert.StartsWith("{\"data\":\"21.5\",\"ttl\":120,\"published_at\":\"", e.RawData, StringComparison.Ordinal);

        // Keep-alive comments arrive on an idle stream (configured to 0.3 s here; 9 s by default).
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            while (await bobStream.Lines.Reader.ReadAsync(wait.Token) is var line && line != ":")
            {
            }
        }
        // Bob saw nothing of Alice's.
        Assert.False(bobStream.Events.Reader.TryRead(out _));
    }
}
