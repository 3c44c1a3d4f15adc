using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.ProductDevices;

/// <summary>Adding, importing, listing, updating, removing and denying a product's devices through the HTTP API, on both
/// databases.</summary>
public class ProductDeviceTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    internal static string NewDeviceId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));

    internal static async Task<int> CreateProductAsync(HttpClient client, int platformId = 13)
    {
        var response = await client.PostAsJsonAsync("/v1/user/products",
            new { product = new { name = "Admission " + Guid.NewGuid().ToString("N")[..8], platform_id = platformId } }, ApiJson.Options);
        await EnsureSuccessAsync(response);
        return (await JsonAsync(response)).GetProperty("product").GetProperty("id").GetInt32();
    }

    internal static async Task SeedDeviceAsync(BulwarkTestServer server, string id, int? platformId = 13, string? serial = null, int? cloudProductId = null)
    {
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        db.Devices.Add(new Device { Id = id, PlatformId = platformId, SerialNumber = serial, CloudProductId = cloudProductId, CreatedAt = DateTime.UtcNow });
        await db.SaveChangesAsync();
    }

    private static MultipartFormDataContent FileContent(byte[] bytes)
    {
        var content = new MultipartFormDataContent();
        content.Add(new ByteArrayContent(bytes), "file", "file");
        return content;
    }

    private static List<string> Ids(JsonElement body, string name) => body.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToList();

    [Theory, MemberData(nameof(Providers))]
    public async Task Add_by_id_ids_and_file_answers_each_list(string provider)
    {
        await using var server = await StartAsync(provider);
        var owner = await server.CreateUserAsync();
        using var client = server.CreateClient(owner.Token);
        var product = await CreateProductAsync(client);
        var other = await CreateProductAsync(client);
        var known = NewDeviceId();
        var bySerial = NewDeviceId();
        var wrongPlatform = NewDeviceId();
        var inOther = NewDeviceId();
        var preAdded = NewDeviceId();
        await SeedDeviceAsync(server, known);
        await SeedDeviceAsync(server, bySerial, serial: "P046AK" + provider.ToUpperInvariant());
        await SeedDeviceAsync(server, wrongPlatform, platformId: 6);
        await SeedDeviceAsync(server, inOther, cloudProductId: other);

        var single = await JsonAsync(await client.PostAsJsonAsync($"/v1/products/{product}/devices", new { id = known.ToUpperInvariant() }));
        Assert.Equal(1, single.GetProperty("updated").GetInt32());
        Assert.Equal([known], Ids(single, "updatedDeviceIds"));
        foreach (var name in new[] { "existingDeviceIds", "nonmemberDeviceIds", "invalidDeviceIds", "protectedDeviceIds" })
        {
            Assert.Empty(Ids(single, name));
        }

        var many = await JsonAsync(await client.PostAsJsonAsync($"/v1/products/{product}/devices", new { ids = new[] { known, preAdded, "nonsense!" } }));
        Assert.Equal([preAdded], Ids(many, "updatedDeviceIds"));
        Assert.Equal([known], Ids(many, "existingDeviceIds"));
        Assert.Equal(["nonsense!"], Ids(many, "invalidDeviceIds"));

        var file = string.Join("\r\n", "P046AK" + provider.ToUpperInvariant(), wrongPlatform, inOther, "UNKNOWNSERIAL1", "", known) + "\n";
        var response = await client.PostAsync($"/v1/products/{product}/devices", FileContent(Encoding.UTF8.GetBytes(file)));
        await EnsureSuccessAsync(response);
        var fromFile = await JsonAsync(response);
        Assert.Equal([bySerial], Ids(fromFile, "updatedDeviceIds"));
        Assert.Equal([known], Ids(fromFile, "existingDeviceIds"));
        Assert.Equal(["UNKNOWNSERIAL1"], Ids(fromFile, "nonmemberDeviceIds"));
        Assert.Equal(new[] { wrongPlatform, inOther }.Order(), Ids(fromFile, "invalidDeviceIds").Order());

        var list = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?sortAttr=deviceId"));
        var listed = list.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("id").GetString()).ToList();
        Assert.Equal(new[] { known, preAdded, bySerial }.Order(), listed);
        var first = list.GetProperty("devices")[0];
        Assert.Equal(product, first.GetProperty("product_id").GetInt32());
        Assert.False(first.GetProperty("quarantined").GetBoolean());
        Assert.False(first.GetProperty("denied").GetBoolean());
        Assert.Equal(1, list.GetProperty("meta").GetProperty("total_pages").GetInt32());

        Assert.Equal(400, (int)(await client.PostAsJsonAsync($"/v1/products/{product}/devices", new { })).StatusCode);
        var audit = await AuditAsync(server, AuditEventType.ProductDevicesImported);
        Assert.Contains(audit, a => a.SubjectId == $"product:{product}" && a.Details!.Contains(known, StringComparison.Ordinal));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task List_filters_sorts_and_pages(string provider)
    {
        await using var server = await StartAsync(provider);
        var owner = await server.CreateUserAsync();
        using var client = server.CreateClient(owner.Token);
        var product = await CreateProductAsync(client);
        var ids = Enumerable.Range(0, 5).Select(_ => NewDeviceId()).Order().ToList();
        for (var i = 0; i < ids.Count; i++)
        {
            await SeedDeviceAsync(server, ids[i], serial: $"SN-{provider}-{i}");
        }
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/products/{product}/devices", new { ids }));
        for (var i = 0; i < ids.Count; i++)
        {
            var put = await client.PutAsJsonAsync($"/v1/products/{product}/devices/{ids[i]}", new { name = $"unit-{(char)('e' - i)}", notes = "n" + i });
            await EnsureSuccessAsync(put);
            var echo = await JsonAsync(put);
            Assert.Equal(ids[i], echo.GetProperty("id").GetString());
            Assert.Equal("n" + i, echo.GetProperty("notes").GetString());
            Assert.True(echo.TryGetProperty("updated_at", out _));
        }
        var page = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?sortAttr=deviceName&sortDir=asc&page=2&per_page=2"));
        Assert.Equal(3, page.GetProperty("meta").GetProperty("total_pages").GetInt32());
        Assert.Equal(new[] { "unit-c", "unit-d" }, page.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("name").GetString()));
        var byName = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?deviceName=UNIT-A"));
        Assert.Equal(ids[4], byName.GetProperty("devices").EnumerateArray().Single().GetProperty("id").GetString());
        var bySerial = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?serialNumber=sn-{provider}-2"));
        Assert.Equal(ids[2], bySerial.GetProperty("devices").EnumerateArray().Single().GetProperty("id").GetString());
        var byId = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?deviceId={ids[3][..10]}"));
        Assert.Equal(ids[3], byId.GetProperty("devices").EnumerateArray().Single().GetProperty("id").GetString());
        var desc = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?sortAttr=deviceId&sortDir=desc&perPage=1"));
        Assert.Equal(ids[^1], desc.GetProperty("devices")[0].GetProperty("id").GetString());
        await EnsureSuccessAsync(await client.PutAsJsonAsync($"/v1/products/{product}/devices/{ids[0]}", new { groups = new[] { "alpha" } }));
        await EnsureSuccessAsync(await client.PutAsJsonAsync($"/v1/products/{product}/devices/{ids[1]}", new { groups = new[] { "alpha", "beta" } }));
        await EnsureSuccessAsync(await client.PutAsJsonAsync($"/v1/products/{product}/devices/{ids[2]}", new { groups = new[] { "beta" } }));
        var alpha = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?groups=alpha"));
        Assert.Equal(new[] { ids[0], ids[1] }, alpha.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        var either = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?groups=alpha,beta"));
        Assert.Equal(new[] { ids[0], ids[1], ids[2] }, either.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        var none = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?groups=gamma"));
        Assert.Empty(none.GetProperty("devices").EnumerateArray());
        Assert.Equal(400, (int)(await client.GetAsync($"/v1/products/{product}/devices?sortAttr=color")).StatusCode);
        Assert.Equal(400, (int)(await client.GetAsync($"/v1/products/{product}/devices?page=0")).StatusCode);
        var one = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices/{ids[0]}"));
        Assert.Equal("unit-e", one.GetProperty("name").GetString());
        Assert.Equal(400, (int)(await client.PutAsJsonAsync($"/v1/products/{product}/devices/{ids[0]}", new { name = "bad name!" })).StatusCode);
        Assert.Equal(404, (int)(await client.GetAsync($"/v1/products/{product}/devices/{NewDeviceId()}")).StatusCode);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Remove_and_deny_keep_separate_lists_and_deny_can_be_reapproved(string provider)
    {
        await using var server = await StartAsync(provider);
        var owner = await server.CreateUserAsync();
        using var client = server.CreateClient(owner.Token);
        var product = await CreateProductAsync(client);
        var removed = NewDeviceId();
        var deniedByBody = NewDeviceId();
        var deniedByQuery = NewDeviceId();
        await EnsureSuccessAsync(await client.PostAsJsonAsync($"/v1/products/{product}/devices", new { ids = new[] { removed, deniedByBody, deniedByQuery } }));

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/v1/products/{product}/devices/{removed}")).StatusCode);
        using (var request = new HttpRequestMessage(HttpMethod.Delete, $"/v1/products/{product}/devices/{deniedByBody}")
               { Content = JsonContent.Create(new { deny = true }) })
        {
            Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(request)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/v1/products/{product}/devices/{deniedByQuery}?deny=true")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"/v1/products/{product}/devices/{NewDeviceId()}")).StatusCode);

        var members = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices"));
        Assert.Empty(members.GetProperty("devices").EnumerateArray());
        var denied = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?denied=true"));
        var deniedDevices = denied.GetProperty("devices").EnumerateArray().ToList();
        Assert.Equal(new[] { deniedByBody, deniedByQuery }.Order(), deniedDevices.Select(d => d.GetProperty("id").GetString()).Order());
        Assert.All(deniedDevices, d => Assert.True(d.GetProperty("denied").GetBoolean()));

        var again = await JsonAsync(await client.PostAsJsonAsync($"/v1/products/{product}/devices", new { id = deniedByBody }));
        Assert.Equal([deniedByBody], Ids(again, "updatedDeviceIds"));
        var after = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?denied=true"));
        Assert.Equal([deniedByQuery], after.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("id").GetString()!).ToList());
        Assert.Contains(await AuditAsync(server, AuditEventType.ProductDeviceDenied), a => a.Details!.Contains(deniedByBody, StringComparison.Ordinal));
        Assert.Contains(await AuditAsync(server, AuditEventType.ProductDeviceRemoved), a => a.Details!.Contains(removed, StringComparison.Ordinal));
        Assert.Contains(await AuditAsync(server, AuditEventType.ProductDeviceApproved), a => a.Details!.Contains(deniedByBody, StringComparison.Ordinal));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task A_hundred_thousand_ids_import_in_seconds_all_or_nothing(string provider)
    {
        await using var server = await StartAsync(provider);
        var owner = await server.CreateUserAsync();
        using var client = server.CreateClient(owner.Token);
        var product = await CreateProductAsync(client);
        var ids = Enumerable.Range(0, 100_000).Select(_ => NewDeviceId()).ToList();
        var file = Encoding.ASCII.GetBytes(string.Join('\n', ids) + "\n");
        var clock = Stopwatch.StartNew();
        var response = await client.PostAsync($"/v1/products/{product}/devices", FileContent(file));
        await EnsureSuccessAsync(response);
        var body = await JsonAsync(response);
        clock.Stop();
        Assert.Equal(100_000, body.GetProperty("updated").GetInt32());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the import took {clock.Elapsed}");
        var list = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices?perPage=1000"));
        Assert.Equal(100_000, list.GetProperty("meta").GetProperty("total").GetInt32());

        // The same file again: nothing new; with one junk line: refused whole, nothing changed.
        var second = await JsonAsync(await client.PostAsync($"/v1/products/{product}/devices", FileContent(file)));
        Assert.Equal(100_000, second.GetProperty("existingDeviceIds").GetArrayLength());
        var other = await CreateProductAsync(client);
        var fresh = Enumerable.Range(0, 50_000).Select(_ => NewDeviceId()).ToList();
        var junk = Encoding.ASCII.GetBytes(string.Join('\n', fresh.Take(30_000)) + "\nnot-an-id!\n" + string.Join('\n', fresh.Skip(30_000)));
        var refused = await client.PostAsync($"/v1/products/{other}/devices", FileContent(junk));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var problems = await JsonAsync(refused);
        Assert.Equal(30_001, problems.GetProperty("lines")[0].GetProperty("line").GetInt32());
        var empty = await JsonAsync(await client.GetAsync($"/v1/products/{other}/devices"));
        Assert.Equal(0, empty.GetProperty("meta").GetProperty("total").GetInt32());
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task A_malformed_file_gets_a_per_line_report_and_nothing_is_imported(string provider)
    {
        await using var server = await StartAsync(provider);
        var owner = await server.CreateUserAsync();
        using var client = server.CreateClient(owner.Token);
        var product = await CreateProductAsync(client);
        var good = NewDeviceId();
        var bytes = new List<byte>();
        bytes.AddRange(Encoding.ASCII.GetBytes($"{good}\n0123456789abcdef0123456z\n{good.ToUpperInvariant()}\n"));
        bytes.AddRange(new byte[] { 0x00, 0xFF, 0x13, 0x88, (byte)'\n' });
        bytes.AddRange(Encoding.ASCII.GetBytes("has spaces inside\n"));
        var response = await client.PostAsync($"/v1/products/{product}/devices", FileContent(bytes.ToArray()));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal("invalid_file", body.GetProperty("error").GetString());
        Assert.True(body.TryGetProperty("error_description", out _));
        var lines = body.GetProperty("lines").EnumerateArray().Select(l => (l.GetProperty("line").GetInt32(), l.GetProperty("problem").GetString()!)).ToList();
        Assert.Equal([2, 3, 4, 5], lines.Select(l => l.Item1));
        Assert.Contains("hexadecimal", lines[0].Item2, StringComparison.Ordinal);
        Assert.Equal("duplicate of line 1", lines[1].Item2);
        Assert.Contains("binary", lines[2].Item2, StringComparison.Ordinal);
        var list = await JsonAsync(await client.GetAsync($"/v1/products/{product}/devices"));
        Assert.Equal(0, list.GetProperty("meta").GetProperty("total").GetInt32());

        var emptyFile = await client.PostAsync($"/v1/products/{product}/devices", FileContent(Encoding.ASCII.GetBytes("\n \r\n")));
        Assert.Equal(HttpStatusCode.BadRequest, emptyFile.StatusCode);
        Assert.Contains("empty", (await JsonAsync(emptyFile)).GetProperty("lines")[0].GetProperty("problem").GetString(), StringComparison.Ordinal);
    }

    internal static async Task<List<AuditEvent>> AuditAsync(BulwarkTestServer server, AuditEventType type)
    {
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var code = (int)type;
        return await db.AuditEvents.AsNoTracking().Where(e => e.Type == code).ToListAsync();
    }
}
